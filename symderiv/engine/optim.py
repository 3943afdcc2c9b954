"""Minibatch SGD for engine parameters, in place and without temporaries."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from symderiv.engine.graph import Node


def sgd_update(gradients: Mapping[Node, np.ndarray], learning_rate: float) -> None:
    """``p.value -= learning_rate * gradient`` for every parameter, in place.

    The gradient arrays returned by :meth:`Graph.backward` are fresh, so each
    is scaled in place and subtracted (no temporary the size of W); read-only
    or shared arrays (e.g. broadcast views) are left untouched and copied."""
    scales: dict[np.dtype, Any] = {}
    # One array can be the gradient of several parameters (e.g. both inputs of
    # an add pass the same cotangent through): such arrays are never scaled in place.
    seen: dict[int, int] = {}
    for gradient in gradients.values():
        seen[id(gradient)] = seen.get(id(gradient), 0) + 1
    for node, gradient in gradients.items():
        value = node.value
        dtype = value.dtype
        scale = scales.get(dtype)
        if scale is None:
            scale = scales[dtype] = dtype.type(learning_rate)
        if (
            type(gradient) is np.ndarray
            and gradient.dtype == dtype
            and gradient.base is None
            and gradient.flags.writeable
            and seen[id(gradient)] == 1
        ):
            gradient *= scale  # a fresh array the caller handed over: scale it in place
            value -= gradient
        else:
            value -= np.asarray(gradient, dtype=dtype) * scale
