"""Compiled scoring: array operations that give the model's own scores, and the fallback."""

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder

from {{ cookiecutter.package_name }}.configs import (
    GradientBoostingConfig,
    LogisticRegressionConfig,
    ModelConfig,
)
from {{ cookiecutter.package_name }}.core import schema
from {{ cookiecutter.package_name }}.core.features import (
    CATEGORICAL_FEATURES,
    NUMERIC_FEATURES,
    build_features,
    churn_labels,
)
from {{ cookiecutter.package_name }}.core.models import build_model, with_features
from {{ cookiecutter.package_name }}.core.scoring import (
    TREE_WALK_ROWS,
    CustomerArrays,
    OneHotScorer,
    PipelineScorer,
    UnsupportedModelError,
    compile_scorer,
    max_difference,
    scorer_for,
)
from {{ cookiecutter.package_name }}.core.synthetic import generate_customers
from {{ cookiecutter.package_name }}.core.validation import validate_customers

KINDS = ["logistic_regression", "gradient_boosting"]
#: Both compile to the same float64 operations as the pipeline (measured: LR about 1e-16, HGB 0).
BASELINE_TOLERANCE = 1e-12
#: The network runs in float32 in torch and in numpy; only the summation order differs.
NET_TOLERANCE = 1e-5


def contract_rows(count: int, seed: int) -> pd.DataFrame:
    """Typed contract rows (as validation gives them) with their label."""
    raw = generate_customers(count, np.random.default_rng(seed)).astype(str)
    return validate_customers(raw).valid


def inputs(valid: pd.DataFrame) -> pd.DataFrame:
    return valid[list(schema.INPUT_COLUMNS)].reset_index(drop=True)


def fitted(kind: str, valid: pd.DataFrame, c: float = 1.0) -> Pipeline:
    config = ModelConfig(
        kind=kind,
        logistic_regression=LogisticRegressionConfig(c=c),
        gradient_boosting=GradientBoostingConfig(max_iter=30),
    )
    return build_model(config).fit(inputs(valid), churn_labels(valid))


def every_value(base: pd.DataFrame) -> pd.DataFrame:
    """One row per (column, allowed value), built on real rows; every third TotalCharges blank."""
    variants: list[pd.Series] = []
    for column, values in schema.CATEGORIES.items():
        for value in values:
            variants.append(base.iloc[len(variants) % len(base)].copy())
            variants[-1][column] = value
    rows = pd.DataFrame(variants).reset_index(drop=True)
    rows.loc[::3, "TotalCharges"] = np.nan
    return rows.astype(base.dtypes.to_dict())


@pytest.fixture(scope="module")
def training() -> pd.DataFrame:
    return contract_rows(1_200, seed=1)


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    """About 1,000 rows to score, some with a blank TotalCharges (tenure 0)."""
    rows = inputs(contract_rows(1_000, seed=2))
    assert rows["TotalCharges"].isna().any()
    return rows


@pytest.fixture(scope="module")
def models(training) -> dict[str, Pipeline]:
    return {kind: fitted(kind, training) for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_each_baseline_kind_compiles_to_the_pipelines_scores(models, rows, kind):
    model = models[kind]

    scorer = compile_scorer(model)
    scores = scorer.score(CustomerArrays.from_frame(rows))

    assert scorer.kind == "compiled"
    expected = model.predict_proba(rows)[:, 1]
    assert scores.shape == (len(rows),)
    assert np.max(np.abs(scores - expected)) <= BASELINE_TOLERANCE
    assert max_difference(scorer, model, rows) <= BASELINE_TOLERANCE


@pytest.mark.parametrize("kind", KINDS)
def test_blanks_every_category_and_values_training_never_saw_score_like_the_pipeline(
    training, rows, kind
):
    # Given a model trained without mailed checks and without internet-less customers
    narrow = training[
        (training["PaymentMethod"] != "Mailed check") & (training["InternetService"] != "No")
    ]
    model = fitted(kind, narrow)
    seen = dict(
        zip(
            CATEGORICAL_FEATURES,
            model.named_steps["encode"].named_transformers_["categorical"].categories_,
            strict=True,
        )
    )
    assert "Mailed check" not in seen["PaymentMethod"]
    assert "No internet service" not in seen["OnlineSecurity"]
    odd = every_value(rows)

    # When the compiled scorer scores every allowed value, blanks included
    scores = compile_scorer(model).score(CustomerArrays.from_frame(odd))

    # Then it agrees with the pipeline, which ignores the values its encoder does not know
    assert odd["TotalCharges"].isna().any()
    for column, values in schema.CATEGORIES.items():
        assert set(odd[column]) == set(values)
    expected = model.predict_proba(odd)[:, 1]
    assert np.max(np.abs(scores - expected)) <= BASELINE_TOLERANCE


{% if cookiecutter|layer_enabled("training") -%}
def test_the_tabular_net_compiles_to_a_numpy_forward_pass(training, rows):
    import torch  # the training layer's: imported here, as the scorer never needs it

    from {{ cookiecutter.package_name }}.core import tabular_net

    # Given a TabularNet with seeded random weights, large enough that scores spread out
    encoder = tabular_net.TabularEncoder.fit([build_features(training)])
    net = tabular_net.TabularNet(encoder.cardinalities, len(NUMERIC_FEATURES), (32, 16), 0.1)
    rng = np.random.default_rng(0)
    net.load_state_dict(
        {
            name: torch.from_numpy(rng.normal(0.0, 0.3, tensor.shape).astype(np.float32))
            for name, tensor in net.state_dict().items()
        }
    )
    classifier = tabular_net.TabularNetClassifier.from_trained(
        encoder, net, (32, 16), 0.1, history=[]
    )
    model = with_features(classifier)
    scored = pd.concat([rows.head(500), every_value(rows)], ignore_index=True)

    # When it is compiled
    scorer = compile_scorer(model)
    scores = scorer.score(CustomerArrays.from_frame(scored))

    # Then numpy gives torch's scores, which do vary from customer to customer
    assert scorer.kind == "compiled"
    expected = model.predict_proba(scored)[:, 1]
    assert expected.std() > 0.05
    assert np.max(np.abs(scores - expected)) <= NET_TOLERANCE
    assert max_difference(scorer, model, scored) <= NET_TOLERANCE


{% endif -%}
def test_records_rows_and_frames_give_the_same_arrays_and_back(rows):
    records = [
        {
            key: None if key == "TotalCharges" and pd.isna(value) else value
            for key, value in r.items()
        }
        for r in rows.to_dict("records")
    ]
    assert any(record["TotalCharges"] is None for record in records)
    tuples = [(*row, "ignored extra value") for row in rows.itertuples(index=False)]

    from_frame = CustomerArrays.from_frame(rows)
    from_records = CustomerArrays.from_records(records)
    from_rows = CustomerArrays.from_rows(tuples)

    for arrays in (from_records, from_rows):
        np.testing.assert_array_equal(arrays.codes, from_frame.codes)
        np.testing.assert_array_equal(arrays.numbers, from_frame.numbers)  # NaN == NaN here
    assert from_frame.codes.shape == (len(rows), len(CATEGORICAL_FEATURES))
    assert from_frame.numbers.shape == (len(rows), len(schema.NUMBERS))
    back = from_frame.to_frame()
    assert list(back.columns) == list(schema.INPUT_COLUMNS)
    assert back["tenure"].dtype == "int64"
    assert back["SeniorCitizen"].dtype == "int64"
    pd.testing.assert_frame_equal(back, rows, check_dtype=False)


@pytest.mark.parametrize(
    ("column", "value"),
    [("gender", "DSL"), ("Contract", "Yes"), ("PaymentMethod", "Crypto"), ("gender", "male")],
)
def test_a_value_outside_the_columns_contract_is_a_key_error(rows, column, value):
    record = rows.iloc[0].to_dict()
    record[column] = value

    with pytest.raises(KeyError):
        CustomerArrays.from_records([record])
    with pytest.raises(KeyError):
        CustomerArrays.from_frame(rows.head(1).astype({column: object}).assign(**{column: value}))


def with_extra_step() -> Pipeline:
    steps = build_model(ModelConfig()).steps
    return Pipeline([*steps[:2], ("extra", "passthrough"), steps[2]])


def with_dropped_category() -> Pipeline:
    model = build_model(ModelConfig())
    return model.set_params(
        encode__categorical=OneHotEncoder(drop="first", handle_unknown="ignore")
    )


def with_dummy_classifier() -> Pipeline:
    return with_features(DummyClassifier(strategy="prior"))


def with_uncentred_scaling() -> Pipeline:
    return build_model(ModelConfig()).set_params(encode__numeric__scale__with_mean=False)


def with_min_max_scaling() -> Pipeline:
    return build_model(ModelConfig()).set_params(encode__numeric__scale=MinMaxScaler())


def with_strict_categories() -> Pipeline:
    return build_model(ModelConfig()).set_params(encode__categorical__handle_unknown="error")


@pytest.mark.parametrize(
    "unknown",
    [
        with_extra_step,
        with_dropped_category,
        with_dummy_classifier,
        with_uncentred_scaling,
        with_min_max_scaling,
        with_strict_categories,
    ],
    ids=lambda f: f.__name__,
)
def test_a_model_the_compiler_does_not_know_is_served_as_it_is(training, rows, unknown):
    model = unknown().fit(inputs(training), churn_labels(training))

    with pytest.raises(UnsupportedModelError):
        compile_scorer(model)
    scorer = scorer_for(model)
    scores = scorer.score(CustomerArrays.from_frame(rows))

    assert isinstance(scorer, PipelineScorer)
    assert scorer.kind == "pipeline"
    np.testing.assert_array_equal(scores, model.predict_proba(rows)[:, 1])
    assert max_difference(scorer, model, rows) == 0.0


def test_another_classifier_behind_the_encoder_compiles_through_its_own_predict_proba(
    training, rows
):
    # Linear, like logistic regression, but its probabilities are not a sigmoid of the margin.
    model = build_model(ModelConfig()).set_params(
        classifier=SGDClassifier(loss="modified_huber", random_state=0)
    )
    model.fit(inputs(training), churn_labels(training))

    scorer = compile_scorer(model)

    assert scorer.kind == "compiled"
    assert max_difference(scorer, model, rows) <= BASELINE_TOLERANCE


def test_a_model_that_is_not_a_contract_pipeline_is_not_compiled(models, training):
    encoded = models["logistic_regression"][:-1].transform(inputs(training))
    bare = LogisticRegression().fit(encoded, churn_labels(training))

    with pytest.raises(UnsupportedModelError):
        compile_scorer(bare)
    assert isinstance(scorer_for(bare), PipelineScorer)
    assert scorer_for(models["logistic_regression"]).kind == "compiled"


@pytest.mark.parametrize(
    "other",
    [
        lambda training: fitted("logistic_regression", training, c=0.001),
        lambda training: fitted("gradient_boosting", training),
    ],
    ids=["another C", "another kind"],
)
def test_max_difference_catches_a_scorer_from_another_model(models, training, rows, other):
    scorer = compile_scorer(models["logistic_regression"])

    difference = max_difference(scorer, other(training), rows)

    assert difference > 1e-3


@pytest.mark.parametrize("count", [1, TREE_WALK_ROWS, TREE_WALK_ROWS + 1, 200])
def test_boosted_trees_walked_in_numpy_or_by_scikit_learn_give_its_exact_scores(
    models, rows, count
):
    model = models["gradient_boosting"]
    scorer = compile_scorer(model)
    sample = rows.head(count)

    scores = scorer.score(CustomerArrays.from_frame(sample))

    assert isinstance(scorer, OneHotScorer)
    assert scorer.trees is not None
    np.testing.assert_array_equal(scores, model.predict_proba(sample)[:, 1])


@pytest.mark.parametrize("kind", KINDS)
def test_a_single_customer_scores_to_one_value(models, rows, kind):
    record = rows.iloc[[0]].to_dict("records")

    scores = compile_scorer(models[kind]).score(CustomerArrays.from_records(record))

    assert scores.shape == (1,)
    assert scores[0] == pytest.approx(models[kind].predict_proba(rows.head(1))[0, 1], abs=1e-12)


def test_no_customers_give_empty_arrays(models):
    arrays = CustomerArrays.from_records([])

    assert len(arrays) == 0
    assert arrays.codes.shape == (0, len(CATEGORICAL_FEATURES))
    assert arrays.numbers.shape == (0, len(schema.NUMBERS))
    assert CustomerArrays.from_rows([]).codes.shape == arrays.codes.shape
    for kind in KINDS:
        assert compile_scorer(models[kind]).score(arrays).shape == (0,)
