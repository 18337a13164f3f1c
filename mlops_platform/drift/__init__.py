"""The platform's drift job: population stability index per feature, pushed to a Pushgateway.

``python -m mlops_platform.drift`` (the drift CronJob of the monitoring layer) reads a model's
reference sample and its recent prediction inputs from the object store, computes the population
stability index (PSI) of every feature of the reference and the share of features whose PSI is above
the threshold, and pushes ``model_drift_psi{feature}`` and ``model_drift_feature_share`` to the
Pushgateway under the grouping key ``{job="mlops-drift", model=<model>}``; Prometheus scrapes the
Pushgateway with ``honor_labels``, so the series carry ``model`` as the alert rules select it.

Object layout (S3 API; ``.csv`` or ``.parquet``, one row per prediction input, one column per feature)::

    s3://<bucket>/drift/<model>/reference.{csv,parquet}
    s3://<bucket>/drift/<model>/recent/<any name>.{csv,parquet}

Missing or bad data never yields a figure: the job logs one line saying what is wrong and where,
pushes nothing, and exits 2 (1 when the object store or the Pushgateway cannot be reached).
"""
