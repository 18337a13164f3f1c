"""Run in the runtime venv: parse Prometheus text from stdin with prometheus_client's own parser.

Prints one JSON list of ``[name, labels, value]`` samples; a malformed exposition fails the parse.
"""

from __future__ import annotations

import json
import sys

from prometheus_client.parser import text_string_to_metric_families

samples = [
    [s.name, s.labels, s.value]
    for family in text_string_to_metric_families(sys.stdin.read())
    for s in family.samples
]
json.dump(samples, sys.stdout)
