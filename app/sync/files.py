"""The names of an enrollment's files in a terminal's data folder, in one place: written by
`app.sync.client.store_enrollment`, found by `app.services.terminal.TerminalFiles`. A module
of its own so that naming a path does not import the HTTP client."""

TERMINAL_CERT_FILE = "terminal.pem"
TERMINAL_KEY_FILE = "terminal.key"  # PKCS#8, encrypted with the device secret
CA_FILE = "ca.pem"
