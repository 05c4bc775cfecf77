"""The text system's options, declared once (flags, help and defaults come from here); light to import."""

from __future__ import annotations

from dataclasses import dataclass

from deeplearn.engine.options import defaults_of, fraction, opt, positive


@dataclass
class TextOptions:
    """Options of the text task (besides the engine's); stored in config.json so that a run can be rebuilt."""

    file: str | None = opt(None, "the UTF-8 text file (.gz too; not needed with --resume)", positional=True,
                           shown="none")
    cell: str = opt("lstm", "recurrent cell", choices=["lstm", "gru", "rnn"])
    hidden: int = opt(256, "hidden units per layer", check=positive)
    layers: int = opt(2, "recurrent layers", check=positive)
    embed: int | None = opt(None, "character embedding size", shown="= hidden", check=positive)
    dropout: float = opt(0.0, "dropout between layers and before the output", check=fraction)
    seq_len: int = opt(128, "characters per TBPTT chunk", check=positive)
    val_fraction: float = opt(0.1, "last part of the file held out", check=fraction)
    eval_streams: int = opt(32, "pieces the validation text is read in, in parallel", check=positive)
    carry_state: bool = opt(True, "carry the hidden state across chunks (--no-carry-state resets it every chunk, "
                                  "for comparison only)")


TASK_DEFAULTS = defaults_of(TextOptions)
