"""Jobs: each ``run`` reads like a list of named steps and is called the same way by the CLI,
the notebook, Make and (later) DVC, Airflow and CI."""
