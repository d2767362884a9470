"""The sectors' side of verification: build requests, send them, load a file of them.

with VerificationClient("mobile-subscribers") as client:   # refused if it may not verify
    request_id = client.submit({"record_id": "sub-1", "pin": "...", "given_name": "Ánh"})
    report = client.flush()
"""

from producers.verification.client import SubmitReport, VerificationClient, VerificationRefusedError
from producers.verification.records import CAMPAIGN_NAMESPACE, request_from_data, request_id_for

__all__ = [
    "CAMPAIGN_NAMESPACE",
    "SubmitReport",
    "VerificationClient",
    "VerificationRefusedError",
    "request_from_data",
    "request_id_for",
]
