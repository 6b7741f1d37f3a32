from .nn_basic import *  # noqa: F401,F403
