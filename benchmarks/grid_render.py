"""Which way of drawing a grid of cases x arms coloured by score opens fastest in Chromium, at 1,000 and 5,000 cases.

Serves a one-page Streamlit app that draws the same scores (8 arms, pass/fail or none) three ways: a dataframe of
text cells led by a coloured square (the Grid page's way), a dataframe whose cells a pandas Styler colours, and
an Altair heatmap; prints the median time (of ``--repeat``) from opening the page until it has settled.

    .venv/bin/python benchmarks/grid_render.py [--repeat 5] [--cases 1000 5000]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))  # tests.support

from tests.support.browser import chromium_page, settle  # noqa: E402
from tests.support.net import free_port, wait_for_streamlit  # noqa: E402

APP = """
import random
import altair as alt
import pandas as pd
import streamlit as st

st.set_page_config(layout="wide")
mode, n = st.query_params.get("mode", "squares"), int(st.query_params.get("n", "1000"))
rng = random.Random(0)
arms = [f"arm{i}" for i in range(8)]
frame = pd.DataFrame([[f"q{i:05d}", *[rng.choice([0.0, 1.0, None]) for _ in arms]] for i in range(n)],
                     columns=["case", *arms])
if mode == "squares":
    for arm in arms:
        frame[arm] = ["⬜" if pd.isna(v) else ("🟩 " if v == 1 else "🟥 ") + f"{v:.3g}" for v in frame[arm]]
    st.dataframe(frame, on_select="rerun", selection_mode="single-cell", height=720, key="grid")
elif mode == "styler":
    def colour(v):
        return "background-color: #d9d9d9" if pd.isna(v) else f"background-color: {'#66bd63' if v else '#f46d43'}"
    styled = frame.style.map(colour, subset=arms).format("{:.3g}", subset=arms, na_rep="")
    st.dataframe(styled, on_select="rerun", selection_mode="single-cell", height=720, key="grid")
else:
    long = frame.melt(id_vars="case", var_name="arm", value_name="score")
    chart = alt.Chart(long).mark_rect().encode(
        x="arm:N", y=alt.Y("case:N", axis=None),
        color=alt.Color("score:Q", scale=alt.Scale(scheme="redyellowgreen", domain=[0, 1])),
    ).add_params(alt.selection_point(fields=["case", "arm"], name="cell")).properties(height=max(300, 4 * n))
    st.altair_chart(chart, on_select="rerun", key="grid")
st.write("drawn")
"""

MODES = {"squares": "text cells with a coloured square", "styler": "cells coloured by a Styler", "altair": "Altair"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="page opens per way and size (the median is shown)")
    parser.add_argument("--cases", type=int, nargs="+", default=[1000, 5000], help="rows of the grid")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="grid-render-"))
    (folder / "app.py").write_text(APP, encoding="utf-8")
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(folder / "app.py"), "--server.port", str(port)]
    command += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_for_streamlit(url, proc):
            raise SystemExit("the Streamlit server did not start")
        with chromium_page(folder / "profile") as page:
            for n in args.cases:
                for mode, name in MODES.items():
                    times = []
                    for _ in range(args.repeat):
                        t0 = time.perf_counter()
                        page.goto(f"{url}/?mode={mode}&n={n}")
                        settle(page)
                        page.get_by_text("drawn").wait_for()
                        times.append(time.perf_counter() - t0)
                    print(f"{n:>6} cases x 8 arms, {name:<34} median {statistics.median(times):.2f} s", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
