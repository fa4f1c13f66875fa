"""sacmetest: end-to-end test helpers for mod_sacme.

pebble     -- run a real ACME server (Debian's pebble) on loopback, EAB required
sacmectl   -- run the built sacmectl binary and parse its --json output
certcheck  -- check what sacmectl wrote: chain, SANs, key types, file modes
expect     -- the assertions shared by the tests and the demo
"""
