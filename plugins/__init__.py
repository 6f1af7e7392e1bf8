"""Built-in plugins, each registered through the ``contacthub.plugins`` entry-point group."""
