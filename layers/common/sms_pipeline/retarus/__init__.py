"""The Retarus SMS HTTP API behind the provider port (ports.Provider): the client, its response
bodies, its status table and its credentials. Nothing outside this package and wiring.py knows it."""
