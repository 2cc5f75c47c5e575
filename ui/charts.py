"""Loss charts: the Train page's live chart and the Compare page's saved curves."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

from ui.widgets import plot_text
from w2v_core.serve.jobs import JobState


def loss_figure(state: JobState, before: list[dict[str, float]] | None = None, offset: float = 0.0) -> go.Figure:
    """A run's loss per report (faint), its moving average (bold) and the per-epoch mean (markers), by epoch.

    A continued run (``continuation.py``) draws its parent's curve (``before``, {x, loss}) first and its own after
    the parent's ``offset`` epochs."""
    fig = go.Figure()
    if before:
        fig.add_trace(go.Scatter(x=[b["x"] for b in before], y=[b["loss"] for b in before], mode="lines",
                                 name="the parent's run", line=dict(width=1.5, color="rgba(120,120,120,0.6)")))
    xs = [b["x"] + offset for b in state.batch_losses]
    if xs:
        fig.add_trace(go.Scatter(x=xs, y=[b["loss"] for b in state.batch_losses], mode="lines", name="loss per report",
                                 line=dict(width=1, color="rgba(99,110,250,0.35)")))
        # a centred moving average: it follows the curve without the lag of an exponential average
        raw = pd.Series([b["loss"] for b in state.batch_losses])
        smooth = raw.rolling(max(3, len(raw) // 15) | 1, center=True, min_periods=1).mean()
        fig.add_trace(go.Scatter(x=xs, y=smooth, mode="lines", name="smoothed", line=dict(width=2.5, color="#636efa")))
    if state.epoch_losses:
        fig.add_trace(go.Scatter(x=[e["epoch"] + offset for e in state.epoch_losses], y=[e["loss"] for e in state.epoch_losses],
                                 mode="lines+markers", name="epoch mean", marker=dict(size=9, color="#ef553b"),
                                 line=dict(dash="dot", color="#ef553b")))
    fig.update_traces(cliponaxis=False)  # a marker on the last epoch sits on the axis' edge: draw all of it
    fig.update_layout(height=340, margin=dict(l=10, r=20, t=30, b=10), xaxis_title="epoch", yaxis_title="loss",
                      legend=dict(orientation="h", y=1.12, x=0), hovermode="x unified")
    # the epochs planned while it runs; a stopped run ends where it stopped
    ran = state.summary.get("epochs")  # epochs run, a fraction when stopped mid-epoch
    end = (max(xs + [e["epoch"] + offset for e in state.epoch_losses]
               + [offset + ran if isinstance(ran, (int, float)) else 0])
           if state.status == "stopped" else state.epochs + offset)
    fig.update_xaxes(range=[0, max(end, 1e-3)])
    ys = [b["loss"] for b in state.batch_losses] + [e["loss"] for e in state.epoch_losses] + [
        b["loss"] for b in before or []]
    if ys and min(ys) > 0 and max(ys) / min(ys) > 100:  # a diverging run: a log scale keeps the curve readable
        fig.update_yaxes(type="log")
    return fig


def compare_loss_figure(histories: list[dict[str, Any]], epochs: list[int], labels: list[str],
                        palette: list[str]) -> tuple[go.Figure, list[str]]:
    """Saved loss curves of several models on one epoch axis; also the labels of models without a history."""
    fig = go.Figure()
    missing = []
    for i, (history, n_epochs, label) in enumerate(zip(histories, epochs, labels)):
        batch = (history or {}).get("batch") or []
        per_epoch = (history or {}).get("epoch") or []
        colour = palette[i % len(palette)]
        if not batch and not per_epoch:
            missing.append(label)
            continue
        label = plot_text(label)  # a model's name, shown by Plotly (which reads a little HTML) as typed
        # each progress report already averages the batches since the previous one; the trainer's "smoothed"
        # running mean lags far behind when reports are few, so the raw report is the truer curve
        if len(batch) >= 3:  # x in epochs, so runs of different lengths line up
            fig.add_trace(go.Scatter(x=[b.get("fraction", 0.0) * n_epochs for b in batch],
                                     y=[b.get("loss") for b in batch], mode="lines", name=label,
                                     legendgroup=label, line=dict(color=colour),
                                     hovertemplate="epoch %{x:.2f}<br>loss %{y:.4f}<extra>" + label + "</extra>"))
        if per_epoch:  # each epoch's mean loss, at the end of that epoch (short runs have few progress reports)
            fig.add_trace(go.Scatter(x=[e.get("epoch", k + 1) for k, e in enumerate(per_epoch)],
                                     y=[e.get("loss") for e in per_epoch], mode="lines+markers",
                                     name=f"{label} (epoch mean)", legendgroup=label,
                                     showlegend=len(batch) < 3,  # one legend entry per model: its curve
                                     line=dict(color=colour, dash="dot"), marker=dict(size=8),
                                     hovertemplate="epoch %{x}<br>mean loss %{y:.4f}<extra>" + label + "</extra>"))
    fig.update_layout(xaxis_title="epochs", yaxis_title="training loss", height=360,
                      margin=dict(t=30, b=10), legend=dict(orientation="h", y=1.02, yanchor="bottom"))
    return fig, missing
