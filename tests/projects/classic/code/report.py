"""The report job: one line about the database, written where --out says."""

import os
import sys

out = sys.argv[sys.argv.index("--out") + 1]
os.makedirs(os.path.dirname(out), exist_ok=True)
with open(out, "w") as report:
    report.write(f"report for {os.environ['DB_NAME']}\n")
print(f"report written to {out}")
