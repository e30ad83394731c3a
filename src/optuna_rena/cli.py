"""The ``optuna-rena`` command line."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from collections.abc import Sequence
from pathlib import Path
import sys

from optuna_rena import zoo
from optuna_rena._report import layer_table
from optuna_rena._resources import measure_latency
from optuna_rena._resources import ResourceModel
from optuna_rena._spec import NetworkSpec
from optuna_rena._spec import SpecError


_BASELINES: dict[str, Callable[[], NetworkSpec]] = {
    "cifar10-resnet": zoo.cifar10_resnet,
    "kws-crnn": zoo.kws_crnn,
    "ds-cnn": zoo.ds_cnn,
}


def load_baseline(name: str) -> NetworkSpec:
    """A zoo network by name (``nas-bench-macro:CODE`` for NAS-Bench-Macro) or a spec
    JSON file.

    Raises:
        ValueError: Unknown name, unreadable file or invalid spec.
    """
    if name in _BASELINES:
        return _BASELINES[name]()
    if name.startswith("nas-bench-macro:"):
        return zoo.nas_bench_macro(name.split(":", 1)[1])
    path = Path(name)
    if path.suffix == ".json":
        try:
            text = path.read_text()
        except OSError as e:
            raise ValueError(f"cannot read the spec file {name!r}: {e.strerror}.") from None
        return NetworkSpec.from_json(text)
    raise ValueError(
        f"unknown baseline {name!r}; expected one of {sorted(_BASELINES)}, "
        "nas-bench-macro:CODE (8 digits of 0, 1, 2) or a spec .json file."
    )


def _resources(args: argparse.Namespace) -> int:
    spec = load_baseline(args.baseline)
    resources = ResourceModel(args.dtype).count(spec)
    print(f"{spec.name or args.baseline}: input {spec.input.kind} {spec.input.shape}\n")
    print(layer_table(spec, resources))
    print(f"\nparams {resources.params:,}  FLOPs {resources.flops:,} (= 2 x {resources.macs:,} "
          f"MACs)  bytes {resources.bytes:,}  compute intensity "
          f"{resources.compute_intensity:.2f} FLOPs/byte ({args.dtype})")
    if args.latency:
        ms = measure_latency(spec, batch_size=args.batch_size)
        print(f"latency: {ms:.3f} ms per forward pass at batch size {args.batch_size} "
              "(median of 20)")
    if args.json:
        print("\n" + spec.to_json(indent=2))
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="optuna-rena",
        description="Resource-constrained neural architecture search (RENA) for Optuna.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    res = sub.add_parser(
        "resources", help="count a network's parameters, FLOPs, bytes and compute intensity"
    )
    res.add_argument(
        "baseline", nargs="?", default="cifar10-resnet",
        help=f"one of {sorted(_BASELINES)}, nas-bench-macro:CODE, or a spec .json file "
             "(default: cifar10-resnet)",
    )
    res.add_argument("--dtype", default="float32",
                     help="element type for the bytes moved (default: float32)")
    res.add_argument("--latency", action="store_true",
                     help="also measure the forward latency on this machine")
    res.add_argument("--batch-size", type=_positive_int, default=1,
                     help="batch size for --latency (default: 1)")
    res.add_argument("--json", action="store_true", help="also print the spec as JSON")
    res.set_defaults(func=_resources)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (SpecError, ValueError) as e:
        # A user mistake ends in one line naming it, not in a traceback.
        print(f"optuna-rena {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
