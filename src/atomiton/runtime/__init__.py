"""What generated modules import at run time: stdlib and pydantic only, never the compiler."""

from .context import NodeContext as NodeContext
