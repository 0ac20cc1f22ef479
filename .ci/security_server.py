"""Serve a throwaway REMS instance for the API fuzzer (.ci/security.sh).

Usage: security_server.py INSTANCE_DIR PORT
Migrates a fresh SQLite database in INSTANCE_DIR, seeds one admin, one certified prescriber with a
consented patient, and one certified pharmacy, writes their bearer tokens to INSTANCE_DIR/tokens.json,
then serves on 127.0.0.1:PORT until killed.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from werkzeug.serving import run_simple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PASSWORD = "fuzzing is a long passphrase"  # noqa: S105 - a throwaway local instance


def main(instance: str, port: int) -> None:
    from flask_migrate import upgrade

    from rems import create_app
    from rems.services import accounts, enrollment, practice

    app = create_app({"INSTANCE_PATH": instance, "SECRET_KEY": "fuzz", "PASSWORD_HASH_FAST": True,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance}/fuzz.sqlite3",
                      "MAIL_DIR": f"{instance}/mail", "REDIS_URL": None, "RATELIMIT_STORAGE_URI": "memory://"})
    with app.app_context():
        upgrade()
        admin = accounts.create_admin("admin@fuzz.example", PASSWORD)
        pres = practice.register_prescriber({
            "email": "doctor@fuzz.example", "password": PASSWORD, "first_name": "Fay", "last_name": "Fuzz",
            "npi": "1234567893", "license_state": "NY", "license_number": "F1"})
        practice.attest_prescriber(pres.user, PASSWORD)
        pharmacy = practice.register_pharmacy({
            "name": "Fuzz Pharmacy", "ncpdp_id": "1234567", "npi": "1245319599",
            "address": {"line1": "1 Main St", "city": "Albany", "state": "NY", "zip": "12207"},
            "rsp": {"email": "rsp@fuzz.example", "password": PASSWORD, "first_name": "Rae", "last_name": "Fuzz",
                    "license_number": "R1"}})
        rsp = pharmacy.members[0].user
        practice.attest_pharmacy(rsp, pharmacy, PASSWORD)
        enrollment.enroll(pres.user, {"first_name": "Pat", "last_name": "Fuzz", "date_of_birth": __import__(
            "datetime").date(2000, 1, 1), "email": "patient@fuzz.example", "category": "can_get_pregnant"})
        tokens = {role: accounts.issue_token(user.email, PASSWORD)[0]
                  for role, user in (("admin", admin), ("prescriber", pres.user), ("pharmacist", rsp))}
    Path(instance, "tokens.json").write_text(json.dumps(tokens))
    run_simple("127.0.0.1", port, app, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
