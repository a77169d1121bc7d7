"""The benchmark suite and plan: the built-in prompts, the caller's prompts and the run limits.

Owns what a benchmark runs (`BenchmarkPrompt`, `BenchmarkPlan`, `BUILTIN_SUITE`) and the checks on
it (`build_prompts`, `check_counts`, `check_models`, the `MAX_*` limits); measuring lives in
`bench.benchmark`.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from mcp_ollama.errors import InvalidInputError
from mcp_ollama.ollama.names import canonical_name, validate_model_name
from mcp_ollama.results import Result

__all__ = [
    "BUILTIN_SUITE",
    "DEFAULT_MAX_TOKENS",
    "MAX_MODELS",
    "MAX_PROMPTS",
    "MAX_RUNS",
    "MAX_WARMUP",
    "BenchmarkPlan",
    "BenchmarkPrompt",
    "build_prompts",
    "check_counts",
    "check_models",
]

DEFAULT_MAX_TOKENS = 256
"""num_predict when neither the caller, the preset nor the model's defaults set one: an uncapped
answer would make a run's length, and so the benchmark's duration, unbounded."""

MAX_RUNS = 20
MAX_WARMUP = 5
MAX_PROMPTS = 10
MAX_MODELS = 10

_LONG_PASSAGE = """\
The harbour town of Vell sits where a cold river meets a warm sea, and for three centuries its
fortunes rose and fell with the fish that followed the boundary between the two waters. The first
settlers built on the northern bank, because the southern one flooded every spring; their houses
stood on oak piles driven into the clay, and the oldest of them still lean toward the water.

In the early years the town traded salted herring for grain from the inland farms. A single road
ran up the valley, and in wet seasons it became impassable, so the merchants formed a guild that
paid for gravel, ditches and a toll house. The guild's ledgers survive: they record the price of a
barrel of fish, the wages of the road menders, and a long dispute about who should pay to repair
the bridge after the flood of the ninth year.

The bridge itself was rebuilt four times. The first was timber and lasted eleven years. The second
was timber on stone piers and lasted forty. The third, an arched stone bridge designed by an
engineer who had trained in the capital, collapsed during its opening ceremony when the centring
was removed too early; nobody died, but the engineer left town the same night. The fourth, built
by local masons who simply copied the proportions of the old piers, still carries traffic today.

When the railway arrived, the harbour changed. Fish could reach the capital in a day instead of a
week, and ice became more valuable than salt. An ice house was dug into the hillside behind the
church, lined with straw and sawdust, and filled each winter from the frozen millpond. Ice cutters
worked in teams of six, sawing blocks the size of a travelling chest and sliding them down a
wooden chute. The work was dangerous; the parish register lists two drownings in one winter.

The railway also brought visitors. A hotel opened on the southern bank, now protected by a levee,
and a promenade ran from the hotel to the lighthouse. Visitors came for the sea air, the bathing
machines and the evening concerts of the town band, which played from a cast-iron pavilion that
had been ordered from a catalogue and arrived in two hundred numbered pieces.

The fishing declined slowly and then all at once. Larger boats from other ports worked the banks
further out, the herring moved north, and within a decade the smokehouses closed. The town turned
to boat repair, then to tourism, and later to a small research station that studies the mixing of
fresh and salt water at the river mouth. Its instruments sit on the piers of the old bridge, and
its reports note that the boundary between the waters moves with the tides, the seasons and the
volume of the spring melt, much as the first settlers described it in their letters home.

Weather shaped the town as much as trade. Winter storms came from the north-east and drove the sea
up the river mouth, so the older streets run diagonally to the shore, giving the wind no straight
path. Shutters were painted red with iron oxide, because the paint was cheap and the colour hid
the rust that ran from the hinges. A storm in the ninety-first year tore the roof from the church
and carried its weather vane, a copper herring, three streets inland; it was found in a bakery
yard and returned to the spire with a second, smaller fish beside it to mark the event.

The school opened late and grew quickly. Before it, children learned their letters from the guild
clerks in exchange for sweeping the hall. The first schoolmaster insisted on teaching navigation
as well as arithmetic, arguing that a fishing town needed pilots more than copyists, and for forty
years Vell supplied mates and pilots to ships from ports far larger than itself. The school's
brass sextants, bought with money raised by a winter fair, are still used in lessons each spring.

Disease came twice. A fever in the early years killed one in nine of the settlers and led the
guild to dig a new well above the flood line, lined with stone from the old quarry. Cholera
arrived with the railway, in a hot summer when the river was low; a young doctor traced it to a
pump near the smokehouses and had the handle removed, against the protests of the owners. The
pump still stands in the square without its handle, and a plaque beside it gives the doctor's
name and the number of days it took the outbreak to end after the handle came off.

Politics in Vell were mostly arguments about water. The northern bank wanted the harbour dredged;
the southern bank wanted the levee raised; the farmers inland wanted the river left alone so that
their meadows flooded in spring and grew rich grass. Every council election turned on one of the
three, and the minutes record a meeting in which the mayor, a dredging man, was outvoted by a
coalition of hoteliers and dairy farmers who had never before agreed on anything at all.

The research station's first director was a former pilot who had studied at night. She began by
asking the older fishermen where the herring had run in their grandparents' day and mapped their
answers against the station's measurements of salinity and temperature. The map, drawn by hand on
a chart that covers one wall of the station's library, shows that the fish followed the boundary
between the waters exactly, and that the boundary has moved north by almost a mile in a century.

Today the guild hall is a museum. Its largest room holds the ledgers, a model of the third bridge
with its arches intact, a block of ice-house straw preserved under glass, and one of the pavilion's
numbered pieces, which was found in a garden wall during repairs and identified by its stamp."""

_SUITE = (
    ("short", "Explain in two sentences why the sky is blue."),
    (
        "long_context",
        f"{_LONG_PASSAGE}\n\nSummarise the history of Vell above in three bullet points, then "
        "name the one event you think changed the town most and say why.",
    ),
    (
        "code",
        "Write a Python function `merge_intervals(intervals: list[tuple[int, int]]) -> "
        "list[tuple[int, int]]` that merges overlapping closed intervals. Include a docstring, "
        "type hints and three doctest examples.",
    ),
)


class BenchmarkPrompt(Result):
    """One prompt of a suite."""

    name: str = Field(description="short, long_context, code, or prompt1.. for the caller's")
    prompt: str


BUILTIN_SUITE: tuple[BenchmarkPrompt, ...] = tuple(
    BenchmarkPrompt(name=name, prompt=prompt) for name, prompt in _SUITE
)
"""The built-in suite: a short answer, a long-context summary and a coding task."""


class BenchmarkPlan(Result):
    """What to run: the prompts, how many times, and how to pick each model's options."""

    prompts: list[BenchmarkPrompt]
    runs: int = 3
    warmup: int = 1
    preset: str | None = None

    @property
    def runs_per_model(self) -> int:
        """Generations per model, warmups included."""
        return len(self.prompts) * (self.runs + self.warmup)


def build_prompts(prompts: Sequence[str] | None, *, max_chars: int) -> list[BenchmarkPrompt]:
    """The caller's prompts (named prompt1, prompt2, ...) or the built-in suite.

    Raises:
        InvalidInputError: too many prompts, an empty one, or one over the size limit.
    """
    if not prompts:
        return list(BUILTIN_SUITE)
    if len(prompts) > MAX_PROMPTS:
        raise InvalidInputError(f"{len(prompts)} prompts given; send at most {MAX_PROMPTS}")
    for index, text in enumerate(prompts, 1):
        if not text.strip():
            raise InvalidInputError(f"prompts[{index - 1}] is empty; every prompt needs text")
        if len(text) > max_chars:
            raise InvalidInputError(
                f"prompts[{index - 1}] is {len(text):,} characters, over the limit of "
                f"{max_chars:,}; shorten it"
            )
    return [BenchmarkPrompt(name=f"prompt{i}", prompt=text) for i, text in enumerate(prompts, 1)]


def check_counts(runs: int, warmup: int) -> None:
    """Refuse run counts outside the supported range.

    Raises:
        InvalidInputError: runs outside 1..20 or warmup outside 0..5.
    """
    if not 1 <= runs <= MAX_RUNS:
        raise InvalidInputError(f"runs must be from 1 to {MAX_RUNS}, not {runs}")
    if not 0 <= warmup <= MAX_WARMUP:
        raise InvalidInputError(f"warmup must be from 0 to {MAX_WARMUP}, not {warmup}")


def check_models(models: Sequence[str], *, at_least: int = 2, hosts: bool = False) -> list[str]:
    """The names validated, each model once (`hosts`: the caller could also give hosts).

    Raises:
        InvalidInputError: a bad name, a model listed twice, or fewer than `at_least`.
    """
    names = [validate_model_name(m) for m in models]
    seen: dict[str, str] = {}
    for name in names:
        key = canonical_name(name)
        if key in seen:
            raise InvalidInputError(
                f"'{name}' is listed twice (as '{seen[key]}'); compare distinct models"
            )
        seen[key] = name
    if len(names) < at_least:
        alternative = " (or one model and two hosts)" if hosts else ""
        raise InvalidInputError(
            f"compare_models needs at least two models{alternative}; use benchmark_model for one"
        )
    if len(names) > MAX_MODELS:
        raise InvalidInputError(f"{len(names)} models given; compare at most {MAX_MODELS}")
    return names
