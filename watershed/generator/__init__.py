"""Traffic generator: a simulated shop with ground truth (docs/generator.md).

Public API: :func:`generate` (simulate + deliver + write truth), :func:`simulate` (in memory),
:class:`GeneratorConfig`, :class:`FaultRates`, the sinks :class:`FileSink`, :class:`KafkaSink`,
:class:`HttpSink`, :class:`EventStream` (events in arrival order, built block by block) and
:func:`event_schema` (the schema of the written event files).
"""

from watershed.generator.assemble import RAW_PAYLOAD, EventStream, event_schema
from watershed.generator.config import FaultRates, GeneratorConfig, GeneratorError
from watershed.generator.files import AD_PLATFORM_DIR, EVENTS_DIR, PARQUET_OPTIONS, TRUTH_DIR
from watershed.generator.http_sink import HttpSink
from watershed.generator.kafka_sink import KafkaSink
from watershed.generator.run import generate
from watershed.generator.simulate import Simulation, simulate
from watershed.generator.sinks import EventSink, FileSink

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
