"""Graph functions: ``tg.function`` traces Python into graphs of registered primitives.

Modules: ``ir`` (the graph structure, documented for exporters), ``trace`` (recording),
``passes`` (exact optimizations), ``function`` (signatures, caching, replay through
``tapegrad._graph``), ``effects`` (``tg.print``).
"""

from tapegrad.graph.effects import print_
from tapegrad.graph.function import ConcreteFunction, Function, TensorSpec, function
from tapegrad.graph.ir import Graph, Node, Ref, Value
from tapegrad.graph.trace import TracingError, host_call, tracing

__all__ = ["function", "Function", "ConcreteFunction", "TensorSpec", "Graph", "Node",
           "Ref", "Value", "TracingError", "host_call", "tracing", "print_"]
