"""Create Superset's admin user, or set its password and role to the configured ones.

Runs with Superset's own interpreter (infra/services/superset.py starts it at every service
start). ``superset fab create-admin`` would need the password on its command line; this reads
it from the environment instead. Exit 0 when the admin exists with that password.
"""

import os
import sys

from superset.app import create_app


def main() -> int:
    """Upsert the admin named by SUPERSET_ADMIN_USER with SUPERSET_ADMIN_PASSWORD."""
    name, password = os.environ["SUPERSET_ADMIN_USER"], os.environ["SUPERSET_ADMIN_PASSWORD"]
    app = create_app()
    with app.app_context():
        from superset import security_manager  # needs the app context

        role = security_manager.find_role("Admin")
        if role is None:
            print("Superset has no Admin role: `superset init` has not run", file=sys.stderr)
            return 1
        user = security_manager.find_user(username=name)
        if user is None:
            created = security_manager.add_user(
                name, "Lakehouse", "Admin", f"{name}@lakehouse.invalid", role, password=password
            )
            if not created:
                print(f"could not create Superset's admin user {name!r}", file=sys.stderr)
                return 1
            print(f"created Superset admin {name!r}")
        else:
            security_manager.reset_password(user.id, password)
            if role not in user.roles:
                user.roles.append(role)
                security_manager.update_user(user)
            print(f"Superset admin {name!r}: password set")
    return 0


if __name__ == "__main__":
    sys.exit(main())
