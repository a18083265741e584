"""Edge lab: the real Traefik binary with the configuration the edge component renders, on loopback,
in front of small local backends; plus Pebble (ACME), a test PKI, and the checks users rely on
(security headers scored with the Mozilla Observatory rules, the WebSocket matrix, TLS probes).

Modules: `traefik` (running it), `pki` (certificate fixtures), `backends`, `http_probes` (TLS and
HTTP), `websocket_probes`, `security_headers`, `pebble`; process helpers are tests/support/processes.py.

Rules (tests/edge and the Docker/VM tiers reuse these helpers):
- only 127.0.0.1 and processes started here; names are `.test` names pinned to 127.0.0.1 (SNI via
  `server_hostname`), never resolved through the system resolver;
- every port is picked free at run time;
- readiness is polled, never slept for.
"""
