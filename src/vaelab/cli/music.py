"""Music on the command line: ``vaelab accompany`` harmonizes a melody from a MIDI file with a
trained chorale harmonizer. (Sampling, interpolating and attribute vectors of melody runs are the
ordinary ``sample``, ``interpolate`` and ``attribute`` commands, which write ``.mid`` for music.)"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

import torch

from vaelab import export as outputs
from vaelab.cli.common import add_run_command, device_arg, max_bytes_arg, open_run, output_limit
from vaelab.data.tokens import pitch_span


def cmd_accompany(args: argparse.Namespace) -> int:
    from vaelab.data.midi import read_melody, read_midi  # mido: the music extra
    from vaelab.music.accompaniment import accompany

    limit = output_limit(args)
    model, _, _ = open_run(args)
    path = outputs.check_suffix(args.out, (".mid", ".png", ".npy"))
    if args.variations < 1:
        raise ValueError(f"--variations {args.variations}: write at least 1 harmonization")
    if args.temperature < 0:
        raise ValueError(f"--temperature {args.temperature:g}: it must be >= 0 (0 = the most likely "
                         "notes, 1 = the model's own spread)")
    melody = Path(args.melody)
    if not melody.is_file():
        raise FileNotFoundError(f"{melody}: no such MIDI file")
    notes, n_steps = read_melody(melody)
    shape = (*model.config.input_shape[:-1], n_steps)  # (V, steps): a window as long as the melody
    whole = dataclasses.replace(model.data_info, shape=shape)
    outputs.check_output_size(path, args.variations, whole, limit, flag="--variations", value=args.variations)
    meters = sorted({f"{num}/{den}" for _, num, den in read_midi(melody).time_signatures})
    if meters != ["4/4"]:
        print(f"warning: {melody.name} is in {', '.join(meters)}; the harmonizer learned 4/4 bars, so its "
              "sense of strong and weak beats will be off", file=sys.stderr)
    gen = torch.Generator(device=model.device).manual_seed(args.seed)
    result = accompany(model, notes, n_steps, variations=args.variations, temperature=args.temperature,
                       generator=gen)
    info = dataclasses.replace(model.data_info, pitch_range=tuple(result.pitch_range))
    bars = n_steps / (4 * int(info.steps_per_quarter))
    titles = [f"harmonization {i + 1}" for i in range(args.variations)]
    outputs.write_data(path, result.tokens, info, titles=titles,
                       title=f"{melody.name}: soprano as given, alto, tenor and bass by {args.run}")
    span = pitch_span(result.tokens[:, 0], result.pitch_range)
    moved = f", transposed by {result.shift:+d} semitones for the model and back" if result.shift else ""
    print(f"harmonized {melody.name} ({len(notes)} notes, {bars:g} bars, melody {span[0]}..{span[1]}"
          f"{moved}): {args.variations} variation(s), four voices each, to {path}")
    return 0


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register accompany."""
    p = add_run_command(sub, common, "accompany", "write alto, tenor and bass under a melody with a "
                        "chorale harmonizer (--model accompany)", cmd_accompany)
    p.add_argument("melody", metavar="MELODY.mid", help="MIDI file whose first melodic track (top notes "
                   "where it has chords) is the soprano; any length and key")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="FILE.mid (four tracks; several variations play in turn), FILE.png (piano "
                   "rolls) or FILE.npy (variations x 4 x steps tokens)")
    p.add_argument("--variations", type=int, default=1, metavar="N",
                   help="how many harmonizations, each from its own codes (default: 1)")
    p.add_argument("--temperature", type=float, default=0.5, metavar="T",
                   help="token temperature: 0 = the most likely notes, 1 = the model's own spread "
                   "(default: 0.5)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    max_bytes_arg(p)
    device_arg(p)
