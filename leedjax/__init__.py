"""leedjax: LEED and ExprGAN facial expression editing in JAX/Flax."""

__version__ = '0.1.0'
