"""The platform's model server: one registered model version behind MLflow's scoring protocol.

``python -m mlops_platform.serving_runtime`` is what a model Deployment runs (the image's entrypoint;
``mlops_platform.components.kubernetes.serving`` passes the environment). It resolves ``MODEL_URI`` to
one version once (an alias is read at start, so a pod serves one version for its whole life), loads
it with ``mlflow.pyfunc.load_model`` from ``MLFLOW_TRACKING_URI`` (the registry proxies the artifacts)
and serves, on ``PORT``:

- ``POST /invocations``: MLflow's scoring protocol (``dataframe_split``, ``dataframe_records``,
  ``instances``, ``inputs``; CSV), answered by MLflow's own parser;
- ``GET /health`` (``HEALTH_PATH``): 200 once the model is loaded, 503 before;
- ``GET /metrics`` (``METRICS_PATH``): ``http_requests_total{handler,status}`` and
  ``http_request_duration_seconds`` of the invocations (the alert rules' names; the scrape adds
  ``model`` and ``track``), and ``mlops_served_model_info{registered_model,version,model_uri}``.

SIGTERM ends it cleanly: uvicorn stops accepting, finishes requests in flight, exits 0.

Fault injection for tests: ``MLOPS_INJECT_ERROR_RATIO`` (a fraction, default 0 = off) answers that
share of invocations with 500 before the model runs, spread evenly (one in ``1/ratio``), and is logged
at start; counted like any other 5xx, so an end-to-end test can fire the error-rate SLO alert.
"""
