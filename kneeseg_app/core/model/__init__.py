"""The model package: the contract between the trainer (writer) and the app (reader).

``schema`` (the manifest's dataclasses and the option limits the engine shares), ``manifest``
(strict reading, validated atomic writing), ``package`` (a loaded package: checksums, ONNX
sessions) and ``discovery`` (the installed models, the default one). Import from those
modules; this package re-exports nothing, so each name has one home.
"""
