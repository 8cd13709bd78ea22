"""Which requirements of a spec are development-only tools (no network)."""

from __future__ import annotations

from labship.locking.devtools import split


def test_front_ends_and_the_kernel_move() -> None:
    parts = split(("pandas==2.2.3", "JupyterLab>=4", "notebook", "ipykernel", "ipywidgets"), ())
    assert parts.prod == ("pandas==2.2.3", "ipywidgets")  # code imports ipywidgets
    assert parts.moved == ("JupyterLab>=4", "notebook", "ipykernel")
    assert parts.moved_names == ("JupyterLab", "notebook", "ipykernel")


def test_a_notebook_executor_keeps_the_kernel() -> None:
    parts = split(("papermill", "ipykernel", "jupyter_contrib_nbextensions"), ())
    assert parts.prod == ("papermill", "ipykernel")
    assert parts.moved_names == ("jupyter_contrib_nbextensions",)


def test_keep_in_prod_is_matched_by_normalized_name() -> None:
    parts = split(("jupyterlab", "IPyKernel==6.29.5"), ("ipykernel",))
    assert parts.prod == ("IPyKernel==6.29.5",)
    assert parts.moved == ("jupyterlab",)


def test_nothing_to_move() -> None:
    parts = split(("six", "nbconvert", "jupytext", "jupyter-server"), ())
    assert parts.moved == () and parts.prod == ("six", "nbconvert", "jupytext", "jupyter-server")
