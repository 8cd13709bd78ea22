"""Report: the classic template's second job."""

import os

print(f"report for {os.environ['DB_NAME']}")
