"""A private smoke helper until `precli compare` reads checkpoints:

    python -m precli.sources CHECKPOINT [--read]

lists the kind, the metadata count and one line per tensor (name, stored dtype, shape,
precli format or the skip reason, bytes); with --read, also reads every readable tensor in
chunks and shows its largest finite magnitude. Errors are one line each, `precli: error:
...`, exit 1 (2 for a path that does not exist).
"""

from __future__ import annotations

import sys

from precli.errors import PrecliError


def main(argv: list[str]) -> int:
    args = [a for a in argv if a != "--read"]
    if len(args) != 1:
        print("usage: python -m precli.sources CHECKPOINT [--read]", file=sys.stderr)
        return 2
    from precli.sources import open_checkpoint

    try:
        ck = open_checkpoint(args[0])
        print(f"{ck.path}: {ck.kind}, {len(ck)} tensors, {ck.stored_bytes:,} bytes, "
              f"{len(ck.metadata)} metadata entries")
        for t in ck.tensors():
            what = t.format if t.skip is None else f"skipped: {t.skip}"
            line = f"{t.name}\t{t.dtype}\t{list(t.shape)}\t{what}\t{t.nbytes:,}"
            if "--read" in argv and t.skip is None:
                import numpy as np

                amax = 0.0
                for c in t.chunks():
                    f = np.abs(c[np.isfinite(c)])
                    if f.size:
                        amax = max(amax, float(f.max()))
                line += f"\tamax {amax!r}"
            print(line)
    except PrecliError as e:
        print(f"precli: error: {e}", file=sys.stderr)
        return int(e.exit_code)
    for problem in ck.errors:
        print(f"precli: error: {problem}", file=sys.stderr)
    return 1 if ck.errors else 0


if __name__ == "__main__":
    try:
        raise SystemExit(main(sys.argv[1:]))
    except BrokenPipeError:  # `| head`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(0) from None
