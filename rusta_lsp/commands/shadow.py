"""`rusta clean [--json] PATH`: remove the workspace's shadow slots (mirrors and target directories).

A slot an engine holds — a running server's, a `rusta fix` in progress — is kept and named."""

from __future__ import annotations

import json

from . import folder_root, session_for


def clean_command(args) -> int:
    session = session_for(args, folder_root(args.path))
    pruned = session.slots.prune(0)
    freed = pruned.before - pruned.after
    if args.json:
        print(json.dumps({"freed_bytes": freed, "left_bytes": pruned.after, "removed": pruned.removed,
                          "held": pruned.held}))
    else:
        print(f"removed {len(pruned.removed)} shadow slot(s) of {session.slots.folder}, "
              f"{freed / 1e9:.2f} GB freed")
        if pruned.held:
            print(f"kept slot(s) {', '.join(map(str, pruned.held))}: in use by a running Rusta "
                  f"({pruned.after / 1e9:.2f} GB); stop it, or run Rusta: Clean shadow in the editor")
    return 0
