"""PixelRNN (van den Oord, Kalchbrenner and Kavukcuoglu, 2016): Row LSTM and Diagonal BiLSTM.

Same raster-order factorisation and output layers as :mod:`pixelcnn` (a 7x7
mask-A convolution first, 1x1 convolutions last), but the middle layers are
two-dimensional LSTMs with residual connections:

* **Row LSTM** walks the image one row at a time. Its input-to-state part is a
  1xk convolution over the whole map, masked (mask B) so pixel (r, c) sees only
  columns <= c of its own row; its state-to-state part is a 1-D convolution of
  width k over the previous row's hidden states. The context is a triangle
  above the pixel.
* **Diagonal BiLSTM** *skews* the map (row r shifted right by r) so that each
  column of the skewed map is one diagonal of the image; a column-by-column
  LSTM with a 2x1 state-to-state kernel then sees, for pixel (r, c), the states
  of (r, c-1) and (r-1, c): the whole quarter-plane up and to the left. A
  second LSTM runs on the mirrored image for the quarter up and to the right;
  its output is shifted down one row before the two are added, because on its
  own row it would see pixels to the right (the future).

Both are exactly causal; ``tests/generative/images/test_pixelrnn.py`` checks it
by gradients.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from irkit.errors import InputError
from irkit.generative.images import pixelcnn
from irkit.generative.images.pixelcnn import MaskedConv2d, PixelModel, check_pixel_config

LAYERS = ("row", "diagonal")


@dataclass
class PixelRNNConfig:
    channels: int = 1
    height: int = 28
    width: int = 28
    levels: int = 2  # 2: one Bernoulli logit per pixel; 256: softmax over grey levels
    layer: str = "row"  # "row" (Row LSTM) or "diagonal" (Diagonal BiLSTM)
    hidden: int = 32  # LSTM state size; the residual stream carries 2 * hidden features
    layers: int = 2
    first_kernel: int = 7
    row_kernel: int = 3  # Row LSTM kernel width (input-to-state and state-to-state)
    head: int = 64

    def __post_init__(self) -> None:
        check_pixel_config(self)
        if self.layer not in LAYERS:
            raise InputError(f"layer must be one of {', '.join(LAYERS)}, not {self.layer!r}")


def lstm_step(gates: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    i, f, o, u = gates.chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(u)
    return torch.sigmoid(o) * torch.tanh(c), c


def with_neighbours(h: torch.Tensor, before: int, after: int) -> torch.Tensor:
    """(B, L, C) -> (B, L, (before + 1 + after) * C): each position beside its neighbours (zeros off the ends).

    A 1-D convolution is then one ``nn.Linear``, which is much cheaper than
    ``conv1d`` on the tiny per-step tensors of a recurrence.
    """
    return F.pad(h, (0, 0, before, after)).unfold(1, before + 1 + after, 1).flatten(2)


class RowLSTM(nn.Module):
    def __init__(self, features: int, hidden: int, kernel: int):
        super().__init__()
        self.hidden, self.kernel = hidden, kernel
        self.input_to_state = MaskedConv2d("B", features, 4 * hidden, (1, kernel))
        self.state_to_state = nn.Linear(kernel * hidden, 4 * hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, F, H, W) -> hidden states (B, hidden, H, W)."""
        b, _, _, width = x.shape
        # All rows at once (it only looks along the row), laid out as one contiguous (B, W, 4h) slab per row.
        gates_in = self.input_to_state(x).permute(2, 0, 3, 1).contiguous()
        h = c = x.new_zeros(b, width, self.hidden)
        rows = []
        for g in gates_in.unbind(0):
            h, c = lstm_step(g + self.state_to_state(with_neighbours(h, self.kernel // 2, self.kernel // 2)), c)
            rows.append(h)
        return torch.stack(rows).permute(1, 3, 0, 2)


def skew(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H, H + W - 1) with row r shifted right by r (zeros elsewhere)."""
    b, ch, height, width = x.shape
    # Pad each row to H + W, then re-read the flat buffer with rows one shorter:
    # row r then starts r elements earlier, i.e. its pixels move right by r.
    flat = F.pad(x, (0, height)).reshape(b, ch, height * (height + width))
    return flat[:, :, : height * (height + width - 1)].reshape(b, ch, height, height + width - 1)


def unskew(x: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`skew`: (B, C, H, H + W - 1) -> (B, C, H, W)."""
    b, ch, height, skewed = x.shape
    width = skewed - height + 1
    flat = F.pad(x.reshape(b, ch, height * skewed), (0, height))
    return flat.reshape(b, ch, height, height + width)[:, :, :, :width]


class DiagonalLSTM(nn.Module):
    """One direction: left to right over the diagonals of the image."""

    def __init__(self, features: int, hidden: int):
        super().__init__()
        self.hidden = hidden
        self.input_to_state = nn.Conv2d(features, 4 * hidden, 1)
        # Over a skewed column, taps (r-1, r) of the previous column = the pixels above and to the left.
        self.state_to_state = nn.Linear(2 * hidden, 4 * hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, height, _ = x.shape
        gates_in = skew(self.input_to_state(x)).permute(3, 0, 2, 1).contiguous()  # (H+W-1, B, H, 4h)
        h = c = x.new_zeros(b, height, self.hidden)
        cols = []
        for g in gates_in.unbind(0):
            h, c = lstm_step(g + self.state_to_state(with_neighbours(h, 1, 0)), c)
            cols.append(h)
        return unskew(torch.stack(cols).permute(1, 3, 2, 0))


class DiagonalBiLSTM(nn.Module):
    def __init__(self, features: int, hidden: int):
        super().__init__()
        self.left = DiagonalLSTM(features, hidden)
        self.right = DiagonalLSTM(features, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left = self.left(x)
        right = self.right(x.flip(3)).flip(3)
        right = F.pad(right, (0, 0, 1, 0))[:, :, :-1]  # down one row: drop what it saw to the right on its own row
        return left + right


class PixelRNN(PixelModel):
    def __init__(self, config: PixelRNNConfig):
        super().__init__()
        self.config = cfg = config
        features = 2 * cfg.hidden
        self.first = MaskedConv2d("A", 1, features, cfg.first_kernel)
        self.lstms = nn.ModuleList(
            RowLSTM(features, cfg.hidden, cfg.row_kernel)
            if cfg.layer == "row"
            else DiagonalBiLSTM(features, cfg.hidden)
            for _ in range(cfg.layers)
        )
        self.projections = nn.ModuleList(nn.Conv2d(cfg.hidden, features, 1) for _ in range(cfg.layers))
        self.head = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(features, cfg.head, 1),
            nn.ReLU(),
            nn.Conv2d(cfg.head, 1 if cfg.levels == 2 else cfg.levels, 1),
        )

    def features(self, h: torch.Tensor) -> torch.Tensor:
        for lstm, project in zip(self.lstms, self.projections, strict=True):
            h = h + project(lstm(h))
        return h


class RowRecipe(pixelcnn.Recipe):
    """PixelRNN with Row LSTM layers (binary or ``-O levels=256``)."""

    kind = "pixelrnn-row"
    config_cls = PixelRNNConfig
    epochs = 6
    overrides = {"layer": "row"}  # noqa: RUF012

    def build(self, config: PixelRNNConfig) -> PixelRNN:
        if config.layer != self.overrides["layer"]:
            other = "pixelrnn-row" if config.layer == "row" else "pixelrnn-diag"
            raise InputError(
                f"{self.kind} has {self.overrides['layer']} layers; train {other} for layer={config.layer}"
            )
        return PixelRNN(config)

    def describe(self, config: PixelRNNConfig) -> str:
        return f"{config.layers} {config.layer} LSTM layers of {config.hidden}, " + super().describe(config)


class DiagonalRecipe(RowRecipe):
    """PixelRNN with Diagonal BiLSTM layers."""

    kind = "pixelrnn-diag"
    epochs = 4
    # About 2(H + W) sequential LSTM steps a layer (against H for the Row LSTM): kept small.
    overrides = {"layer": "diagonal", "hidden": 16}  # noqa: RUF012
