"""Supply chain, proven: image digests resolved in their registries and cosign signatures verified.

:mod:`.oci` asks a registry over the OCI distribution API, :mod:`.cosign` verifies key-based cosign
signatures with ``cryptography``, :mod:`.verify` adds the catalogue's registry rules to an audit.
"""
