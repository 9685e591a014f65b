"""A network drawn as layers of units joined by edges, sized and coloured by weight.

:func:`draw_network` draws on a matplotlib ``Axes``; matplotlib is imported
inside it, so importing this module does not need matplotlib.
:func:`mlpkit.plotting.plot_network` wraps it in a figure.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .network import Network

#: Units drawn per layer; a larger layer shows its first and last units.
MAX_DRAWN_UNITS = 32
#: Edge colours: blue for positive weights, red for negative ones, as the
#: ends of matplotlib's "RdBu" colormap that fills the units by bias.
POSITIVE_COLOR = "#2166ac"
NEGATIVE_COLOR = "#b2182b"
#: Edges between two drawn layers above which the widest edge is thinner.
DENSE_EDGES = 100


def draw_network(
    ax: Any,
    network: Network,
    input_names: list[str] | None = None,
    output_names: list[str] | None = None,
    max_units: int = MAX_DRAWN_UNITS,
) -> None:
    """Draw layers of units joined by edges, width and colour from the weights.

    An edge's width and opacity grow with ``|w|`` relative to the largest
    weight of its layer; blue edges are positive, red negative. Hidden and
    output units are filled by their bias, on one scale for the network. A
    layer of more than ``max_units`` units shows its first and last
    ``max_units // 2`` units and the count of the others.
    """
    from matplotlib.lines import Line2D

    drawn_units = [_drawn_units(size, max_units) for size in network.layer_sizes]
    positions = [_unit_positions(units) for units in drawn_units]
    for index, layer in enumerate(network.layers):
        _draw_edges(ax, layer.weights, index, positions[index], positions[index + 1])

    biases = [np.asarray(layer.biases, dtype=np.float64) for layer in network.layers]
    bias_limit = max(float(np.abs(values).max()) for values in biases) or 1.0
    for index, units in enumerate(positions):
        _draw_units(ax, network, index, units, bias_limit)
        if None in drawn_units[index]:
            gap = (len(drawn_units[index]) - 1) / 2 - drawn_units[index].index(None)
            omitted = network.layer_sizes[index] - len(units)
            ax.text(
                index,
                gap,
                f"⋮ {omitted} more",
                ha="center",
                va="center",
                fontsize=8,
                bbox={"facecolor": "white", "edgecolor": "none"},
                zorder=4,
            )
    _label_units(ax, positions[0], input_names, x=-0.08, align="right")
    _label_units(
        ax, positions[-1], output_names, x=len(positions) - 1 + 0.08, align="left"
    )
    _label_layers(ax, network, positions)

    handles = [
        Line2D([], [], color=POSITIVE_COLOR, linewidth=2, label="positive weight"),
        Line2D([], [], color=NEGATIVE_COLOR, linewidth=2, label="negative weight"),
        Line2D(
            [],
            [],
            marker="o",
            linestyle="none",
            markerfacecolor="white",
            markeredgecolor="black",
            label="unit fill: bias (blue +, red −)",
        ),
    ]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3)
    ax.set_xlim(-0.8, len(positions) - 0.2)
    ax.autoscale(axis="y")
    ax.set_axis_off()


def _draw_edges(
    ax: Any,
    weights: Any,
    index: int,
    sources: dict[int, float],
    targets: dict[int, float],
) -> None:
    """Draw the edges from layer ``index`` to the next, one per drawn pair."""
    from matplotlib.collections import LineCollection
    from matplotlib.colors import to_rgba

    weights = np.asarray(weights, dtype=np.float64)
    scale = float(np.abs(weights).max()) or 1.0
    widest = 3.0 if len(sources) * len(targets) <= DENSE_EDGES else 1.5
    segments, widths, colors = [], [], []
    for i, start in sources.items():
        for j, end in targets.items():
            strength = abs(weights[i, j]) / scale
            segments.append([(index, start), (index + 1, end)])
            widths.append(0.2 + (widest - 0.2) * strength)
            color = POSITIVE_COLOR if weights[i, j] >= 0 else NEGATIVE_COLOR
            colors.append(to_rgba(color, 0.15 + 0.85 * strength))
    ax.add_collection(LineCollection(segments, linewidths=widths, colors=colors))


def _drawn_units(size: int, max_units: int) -> list[int | None]:
    """Return the unit indices to draw, with None where units are left out."""
    if size <= max_units:
        return list(range(size))
    half = max_units // 2
    return [*range(half), None, *range(size - half, size)]


def _unit_positions(units: list[int | None]) -> dict[int, float]:
    """Return the vertical position of each drawn unit, centred on zero."""
    top = (len(units) - 1) / 2
    return {unit: top - slot for slot, unit in enumerate(units) if unit is not None}


def _draw_units(
    ax: Any, network: Network, index: int, units: dict[int, float], bias_limit: float
) -> None:
    ys = np.array(list(units.values()))
    xs = np.full(ys.size, index)
    if index == 0:
        ax.scatter(xs, ys, s=120, color="white", edgecolors="black", zorder=3)
        return
    biases = np.asarray(network.layers[index - 1].biases, dtype=np.float64)
    ax.scatter(
        xs,
        ys,
        s=120,
        c=biases[list(units.keys())],
        cmap="RdBu",
        vmin=-bias_limit,
        vmax=bias_limit,
        edgecolors="black",
        zorder=3,
    )


def _label_units(
    ax: Any, units: dict[int, float], names: list[str] | None, x: float, align: str
) -> None:
    if names is None:
        return
    for unit, y in units.items():
        ax.text(x, y, names[unit], ha=align, va="center", fontsize=8)


def _label_layers(ax: Any, network: Network, positions: list[dict[int, float]]) -> None:
    top = max(max(units.values()) for units in positions) + 1.0
    ax.text(0, top, f"input\n{network.layer_sizes[0]} features", ha="center")
    for index, layer in enumerate(network.layers, start=1):
        kind = "output" if index == len(network.layers) else f"hidden {index}"
        ax.text(
            index, top, f"{kind}\n{layer.n_out} {layer.activation.name}", ha="center"
        )
