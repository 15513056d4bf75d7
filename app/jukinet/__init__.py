"""住基ネット (住民基本台帳ネットワークシステム) as the counter needs it, behind an adapter.

- `JukinetAdapter` (protocol.py): fetch the 転出証明書情報 of a person presenting the card
  (特例転入, 住基法§24の2), send the 転出証明書情報 of a 特例転出 to the 転入予定地 (§24の2③) and
  the 転入通知 to the 転出地 (§9①).
- `SimulatedJukinet` (simulator.py): the implementation the tests and the demo use. There is no
  real one here: the real path runs through the municipality's 市町村CS and its 統合端末
  (docs/notifications.md says what that interface is).
"""

from app.jukinet.protocol import (
    CardIdentity,
    JukinetAdapter,
    JukinetError,
    JukinetUnavailable,
    MoveInNotice,
    NotFound,
)
from app.jukinet.simulator import SimulatedJukinet, demo_certificates_path

__all__ = [
    "CardIdentity",
    "JukinetAdapter",
    "JukinetError",
    "JukinetUnavailable",
    "MoveInNotice",
    "NotFound",
    "SimulatedJukinet",
    "demo_certificates_path",
]
