"""Run the platform under the real Pulumi engine: previews, ups, refreshes and audits.

The offline engine (``mlops_platform.tools.engine``) re-implements what the engine does; this package hands
the same program (``mlops_platform.stacks.program.platform_program``) and the same policy packs to the real
CLI
through the Automation API's inline programs, which need no Python language host.
"""
