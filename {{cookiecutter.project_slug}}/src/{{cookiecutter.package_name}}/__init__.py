"""Customer churn prediction: data contract, baseline model, evaluation and jobs."""
