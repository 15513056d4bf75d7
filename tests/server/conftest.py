from tests.support.postgres import postgres_cluster, postgres_db  # noqa: F401
from tests.support.server import sync_server, sync_server_any, sync_server_template  # noqa: F401
