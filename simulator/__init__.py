"""Traffic generator: a simulated shop with ground truth (docs/generator.md).

Public API: :func:`generate` (simulate + deliver + write truth), :func:`simulate` (in memory),
:class:`GeneratorConfig`, :class:`FaultRates`, the sinks :class:`FileSink`, :class:`KafkaSink`,
:class:`HttpSink`, :class:`EventStream` (events in arrival order, built block by block) and
:func:`event_schema` (the schema of the written event files).
"""

from simulator.assemble import RAW_PAYLOAD, EventStream, event_schema
from simulator.config import FaultRates, GeneratorConfig, GeneratorError
from simulator.files import AD_PLATFORM_DIR, EVENTS_DIR, PARQUET_OPTIONS, TRUTH_DIR
from simulator.http_sink import HttpSink
from simulator.kafka_sink import KafkaSink
from simulator.run import generate
from simulator.simulate import Simulation, simulate
from simulator.sinks import EventSink, FileSink

__all__ = [
    "AD_PLATFORM_DIR",
    "EVENTS_DIR",
    "PARQUET_OPTIONS",
    "RAW_PAYLOAD",
    "TRUTH_DIR",
    "EventSink",
    "EventStream",
    "FaultRates",
    "FileSink",
    "GeneratorConfig",
    "GeneratorError",
    "HttpSink",
    "KafkaSink",
    "Simulation",
    "event_schema",
    "generate",
    "simulate",
]
