"""Hostile answers are refused before anything is written, with one line naming the answer."""

import pytest

from conftest import bake

#: (answers, text the refusal must contain)
HOSTILE = [
    ({"project_slug": "../escape"}, "project_slug='../escape'"),
    ({"project_slug": "/tmp/absolute"}, "project_slug='/tmp/absolute'"),
    ({"project_slug": "Churn-Project"}, "project_slug='Churn-Project'"),
    ({"project_slug": "churn project"}, "project_slug='churn project'"),
    ({"project_slug": "churn'; rm -rf ~"}, "project_slug="),
    ({"package_name": "class"}, "package_name='class' is a Python keyword"),
    ({"package_name": "json"}, "shadows the standard-library module 'json'"),
    ({"package_name": "mlflow"}, "clashes with the dependency or folder 'mlflow'"),
    ({"package_name": "sklearn"}, "clashes with the dependency or folder 'sklearn'"),
    ({"project_slug": "pandas"}, "clashes with the dependency or folder 'pandas'"),
    ({"package_name": "churn-model"}, "package_name='churn-model'"),
    ({"package_name": "2churn"}, "package_name='2churn'"),
    ({"package_name": "évasion"}, "package_name='évasion'"),
    ({"package_name": "x" * 41}, "longer than 40 characters"),
    ({"project_name": "Churn\nimport os"}, "project_name contains a newline"),
    ({"description": "ends with a backslash \\"}, "description contains a backslash"),
    (
        {"author_name": "{{ '{{' }} cookiecutter.project_slug }}"},
        "author_name contains template syntax",
    ),
    ({"description": "{{ '{%' }} raw %}"}, "description contains template syntax"),
    ({"author_email": "not-an-address"}, "author_email='not-an-address'"),
    ({"author_email": 'a@b.com"; import os'}, "author_email="),
    ({"project_name": "   ", "project_slug": "churn"}, "project_name is empty"),
]


@pytest.mark.parametrize(("answers", "message"), HOSTILE, ids=[str(a) for a, _ in HOSTILE])
def test_hostile_answer_is_refused_and_nothing_is_written(tmp_path, answers, message):
    output = tmp_path / "out"

    result = bake(output, git_init="no", **answers)

    assert result.returncode != 0
    refusal = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(refusal) == 1, result.stderr[-2000:]
    assert message in refusal[0]
    assert list(output.iterdir()) == []
    assert sorted(path.name for path in tmp_path.iterdir()) == [".cookiecutter-home", "out"]


@pytest.mark.parametrize(
    "answers",
    [
        {"maturity_stage": "5"},
        {"layer_notebook": "maybe"},
        {"python_version": "2.7"},
        {"git_init": "perhaps"},
        {"project_name": "   "},  # slugifies to '': cookiecutter refuses the existing folder
    ],
)
def test_answers_cookiecutter_itself_refuses(tmp_path, answers):
    output = tmp_path / "out"

    result = bake(output, **answers)

    assert result.returncode != 0
    assert list(output.iterdir()) == []


def test_template_syntax_that_cookiecutter_cannot_render_is_refused(tmp_path):
    output = tmp_path / "out"

    result = bake(output, project_name="{% if %}")

    assert result.returncode != 0
    assert list(output.iterdir()) == []
