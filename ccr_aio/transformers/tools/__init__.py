"""Tool-call behaviours: `tooluse` (ExitTool mode) and `enhancetool` (argument repair)."""
