"""Model registry consultation (issue 15): resolve aliases to versions, snapshot, promote, roll back.

Pulumi-free and standard-library only at runtime: the program resolves through :mod:`.resolve`, which
talks to MLflow's REST API (:mod:`.client`) or reads a snapshot file (:mod:`.snapshot`).
"""
