"""Run the scim2-tester compliance checker against an Interlib server's /scim/v2.

    python check.py http://127.0.0.1:8080/scim/v2 "$ASSOCIATION_TOKEN"

Every check must pass, or be listed in NOT_APPLICABLE below with the reason; the script
prints each check and exits 1 on any other result (or on a listed check that now passes, so
that the list stays true).

One thing is taught to the checker: SCIM schemas cannot state a range for an integer, so it
fills `yearsExperience` with random 31-bit integers, which the server refuses (400
`invalidValue`: years in the profession run from 0 to 70, on every sync door). The filler is
wrapped so that it draws that one attribute from the range the schema's description states;
every other value is the checker's own.
"""

import random
import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server
import scim2_tester.checkers.patch_add as patch_add
import scim2_tester.checkers.patch_replace as patch_replace
import scim2_tester.filling as filling

EXTENSION = "urn:interlib:params:scim:schemas:extension:2.0:User"

# (check title, attribute the check is about or None, why it does not apply to Interlib)
NOT_APPLICABLE: list[tuple[str, str | None, str]] = [
    (
        "check_replace_attribute",
        EXTENSION,
        "the checker compares the whole extension object with what it sent, including the "
        "`schemas` list its model keeps inside the extension (no response carries one there) "
        "and the read-only `consent`, which it never sends and the server always returns; "
        "each of the extension's attributes is replaced and checked on its own, and passes",
    ),
]


def bounded(original):
    def generate(context, path, mutability=None, required=None):
        value = original(context, path, mutability=mutability, required=required)
        if isinstance(value, int) and not isinstance(value, bool) and str(path).endswith("yearsExperience"):
            return random.randint(0, 70)
        return value

    return generate


def attribute_of(result) -> str | None:
    data = result.data
    if isinstance(data, dict):
        urn = data.get("urn")
        return str(urn) if urn is not None else None
    return None


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    url, token = sys.argv[1], sys.argv[2]
    random.seed(7)
    generate = bounded(filling.generate_random_value)
    for module in (filling, patch_add, patch_replace):
        module.generate_random_value = generate

    client = SyncSCIMClient(Client(base_url=url, headers={"Authorization": f"Bearer {token}"}))
    client.discover()
    results = check_server(client)

    expected = {(title, attribute): reason for title, attribute, reason in NOT_APPLICABLE}
    seen_not_applicable = set()
    unexpected = 0
    passed = 0
    for result in results:
        key = (result.title, attribute_of(result))
        if result.status == Status.SUCCESS:
            passed += 1
            print(f"pass            {result.title}{' ' + key[1] if key[1] else ''}")
        elif key in expected:
            seen_not_applicable.add(key)
            print(f"not applicable  {result.title} {key[1] or ''}: {expected[key]}")
        else:
            unexpected += 1
            print(f"FAIL            {result.title} {key[1] or ''}: {result.status.name} {result.reason}")
            if result.data is not None:
                print(f"                {result.data}")
    stale = [key for key in expected if key not in seen_not_applicable]
    for title, attribute in stale:
        print(f"STALE           {title} {attribute or ''} is listed as not applicable but did not fail")
    print(f"{passed} checks passed, {len(seen_not_applicable)} not applicable, {unexpected} failed")
    return 1 if unexpected or stale else 0


if __name__ == "__main__":
    sys.exit(main())
