"""The comparison chart: standalone SVG that parses, labels every model and scales its bars."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from mcp_ollama.bench.charts import ChartRow, comparison_chart

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    declaration, body = svg.split("\n", 1)
    assert declaration == '<?xml version="1.0" encoding="UTF-8"?>'
    return ET.fromstring(body)


def bars(root: ET.Element) -> dict[str, list[float]]:
    """Bar widths by model, in drawing order (tokens/s panel first, then TTFT)."""
    widths: dict[str, list[float]] = {}
    for rect in root.iter(f"{SVG}rect"):
        title = rect.find(f"{SVG}title")
        if title is not None and title.text:
            model = title.text.rsplit(":", 1)[0]
            widths.setdefault(model, []).append(float(rect.attrib["width"]))
    return widths


def test_the_chart_is_standalone_svg_with_a_title_and_a_label_per_model() -> None:
    root = parse(comparison_chart([ChartRow("quick:1b", 400.0, 20.0), ChartRow("slow", 100, 80)]))
    assert root.tag == f"{SVG}svg"
    assert root.attrib["viewBox"].startswith("0 0 ")
    assert root.find(f"{SVG}title") is not None
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert "quick:1b" in texts
    assert "slow" in texts
    assert any("Generation tokens/s" in t for t in texts)
    assert any("Time to first token" in t for t in texts)


def test_bars_are_proportional_to_the_values() -> None:
    root = parse(comparison_chart([ChartRow("a", 400.0, 20.0), ChartRow("b", 100.0, 80.0)]))
    widths = bars(root)
    assert widths["a"][0] == 4 * widths["b"][0]  # tokens/s: a is four times as fast
    assert widths["b"][1] == 4 * widths["a"][1]  # TTFT: b waits four times as long


def test_model_names_are_escaped_so_the_svg_stays_well_formed_and_inert() -> None:
    name = '<script>alert("x")</script>&'
    svg = comparison_chart([ChartRow(name, 10.0, 5.0)], title=f"Compare {name}")
    root = parse(svg)
    assert not list(root.iter(f"{SVG}script"))
    assert not list(root.iter("script"))
    assert "<script>" not in svg
    assert name in [t.text for t in root.iter(f"{SVG}text")]


def test_a_failed_model_gets_a_label_and_no_bars() -> None:
    root = parse(comparison_chart([ChartRow("ok", 50.0, 10.0), ChartRow("bad", None, None, True)]))
    assert "bad" not in bars(root)
    assert [t.text for t in root.iter(f"{SVG}text")].count("failed") == 2


def test_a_chart_with_no_figures_at_all_still_renders() -> None:
    root = parse(comparison_chart([ChartRow("x", None, None, True), ChartRow("y", None, None)]))
    assert bars(root) == {}
    assert [t.text for t in root.iter(f"{SVG}text")].count("n/a") == 2
