"""Errors as PySpark raises them: quarry's errors become gRPC statuses the Spark client converts to its
own exception classes.

The client (``pyspark.errors.exceptions.connect.convert_exception``) reads one
``google.rpc.ErrorInfo`` in the status details: its metadata ``classes`` (a JSON list of
JVM class names, the first that PySpark knows picks the Python class), ``errorClass``,
``messageParameters`` (JSON) and ``sqlState``. So a quarry ``UnknownColumnError`` arrives as
``pyspark.errors.AnalysisException`` with error class ``UNRESOLVED_COLUMN.WITH_SUGGESTION``
and quarry's message and hint as its text, never a traceback.

Error classes are chosen by the error's class (never by reading its message):

=========================  ====================================  ======================================
quarry error               PySpark exception                     error class
=========================  ====================================  ======================================
ParseError                 ParseException                        PARSE_SYNTAX_ERROR
UnknownColumnError         AnalysisException                     UNRESOLVED_COLUMN.WITH_SUGGESTION
UnknownTableError          AnalysisException                     TABLE_OR_VIEW_NOT_FOUND
UnknownFunctionError       AnalysisException                     UNRESOLVED_ROUTINE
AmbiguousColumnError       AnalysisException                     AMBIGUOUS_REFERENCE
NotGroupedError            AnalysisException                     MISSING_AGGREGATION
other BindError, type      AnalysisException                     (none)
errors
UnsupportedError, "Not     UnsupportedOperationException         UNSUPPORTED_FEATURE
supported: ..."
AccessDeniedError          AnalysisException                     INSUFFICIENT_PERMISSIONS
DivideByZeroError          ArithmeticException                   DIVIDE_BY_ZERO
CastOverflowError          ArithmeticException                   CAST_OVERFLOW
ArithmeticOverflowError    ArithmeticException                   ARITHMETIC_OVERFLOW
InvalidCastError           NumberFormatException                 CAST_INVALID_INPUT
UDFError (a Python UDF    PythonException                       (none)
failed)
DataError, ExecutionError  SparkRuntimeException                 (none)
anything else              SparkException                        INTERNAL_ERROR
=========================  ====================================  ======================================
"""

from __future__ import annotations

import json
import logging
import re

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from quarry import errors as QE
from quarry.server.flight_sql.errors import is_cancellation

log = logging.getLogger("quarry.spark")

__all__ = ["SparkError", "not_supported", "to_status", "abort_with"]

# the JVM class names PySpark maps to its exception classes, with their parents (the client walks the list)
_CLASSES = {
    "AnalysisException": ["org.apache.spark.sql.AnalysisException"],
    "ParseException": ["org.apache.spark.sql.catalyst.parser.ParseException",
                       "org.apache.spark.sql.AnalysisException"],
    "UnsupportedOperationException": ["java.lang.UnsupportedOperationException"],
    "IllegalArgumentException": ["java.lang.IllegalArgumentException"],
    "ArithmeticException": ["org.apache.spark.SparkArithmeticException", "java.lang.ArithmeticException"],
    "NumberFormatException": ["org.apache.spark.SparkNumberFormatException", "java.lang.NumberFormatException"],
    "SparkRuntimeException": ["org.apache.spark.SparkRuntimeException"],
    "SparkNoSuchElementException": ["org.apache.spark.SparkNoSuchElementException"],
    "SparkException": ["org.apache.spark.SparkException"],
    "PythonException": ["org.apache.spark.api.python.PythonException", "org.apache.spark.SparkException"],
}

_SQL_STATES = {"PARSE_SYNTAX_ERROR": "42601", "DUPLICATED_MAP_KEY": "23505", "UNRESOLVED_COLUMN.WITH_SUGGESTION": "42703",
               "TABLE_OR_VIEW_NOT_FOUND": "42P01", "AMBIGUOUS_REFERENCE": "42704", "UNRESOLVED_ROUTINE": "42883",
               "MISSING_AGGREGATION": "42803", "UNSUPPORTED_FEATURE": "0A000", "INTERNAL_ERROR": "XX000",
               "SQL_CONF_NOT_FOUND": "42K0I", "INVALID_HANDLE.OPERATION_NOT_FOUND": "HY000",
               "INVALID_HANDLE.SESSION_NOT_FOUND": "HY000", "OPERATION_CANCELED": "HY008",
               "DIVIDE_BY_ZERO": "22012", "ARITHMETIC_OVERFLOW": "22003", "CAST_OVERFLOW": "22003", "CAST_INVALID_INPUT": "22018"}

_MAX_MESSAGE = 4000          # gRPC trailers are small: a longer message is cut


class SparkError(Exception):
    """An error of the Spark front end, with the PySpark exception it becomes and its error class.

    >>> str(SparkError("Not supported: the relation `unpivot`", exception="UnsupportedOperationException"))
    'Not supported: the relation `unpivot`'
    """

    def __init__(self, message: str, *, error_class: str | None = None, exception: str = "AnalysisException",
                 parameters: dict | None = None, code: grpc.StatusCode = grpc.StatusCode.INTERNAL):
        super().__init__(message)
        self.message = message
        self.error_class = error_class
        self.exception = exception
        self.parameters = dict(parameters or {})
        self.code = code


def not_supported(what: str) -> SparkError:
    """The error for a part of the protocol quarry does not implement: ``Not supported: <what>``."""
    return SparkError(f"Not supported: {what}", error_class="UNSUPPORTED_FEATURE",
                      exception="UnsupportedOperationException", code=grpc.StatusCode.UNIMPLEMENTED)


def _quarry_text(err: QE.QuarryError) -> str:
    text = str(err)
    prefix = f"{err.kind}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def as_spark_error(err: BaseException) -> SparkError:
    """The SparkError ``err`` is seen as by the client (see the module docstring)."""
    if isinstance(err, SparkError):
        return err
    if isinstance(err, QE.QuarryError):
        text = _quarry_text(err)
        invalid = grpc.StatusCode.INVALID_ARGUMENT
        if isinstance(err, QE.ParseError):
            return SparkError(text, error_class="PARSE_SYNTAX_ERROR", exception="ParseException",
                              parameters={"error": err.detail, "hint": err.hint or ""}, code=invalid)
        if isinstance(err, QE.UnknownColumnError):
            return SparkError(text, error_class="UNRESOLVED_COLUMN.WITH_SUGGESTION",
                              parameters={"objectName": f"`{err.name}`", "proposal": err.hint or ""}, code=invalid)
        if isinstance(err, QE.UnknownTableError):
            return SparkError(text, error_class="TABLE_OR_VIEW_NOT_FOUND",
                              parameters={"relationName": f"`{err.subject or ''}`"}, code=invalid)
        if isinstance(err, QE.UnknownFunctionError):
            return SparkError(text, error_class="UNRESOLVED_ROUTINE",
                              parameters={"routineName": f"`{err.name}`",
                                          "searchPath": "[`system`.`builtin`, `system`.`session`]"}, code=invalid)
        if isinstance(err, QE.AmbiguousColumnError):
            return SparkError(text, error_class="AMBIGUOUS_REFERENCE", parameters={"name": f"`{err.name}`"},
                              code=invalid)
        if isinstance(err, QE.NotGroupedError):
            return SparkError(text, error_class="MISSING_AGGREGATION", parameters={"expression": f"`{err.name}`"},
                              code=invalid)
        if isinstance(err, QE.UnsupportedError):
            return SparkError(text, error_class="UNSUPPORTED_FEATURE", exception="UnsupportedOperationException",
                              code=grpc.StatusCode.UNIMPLEMENTED)
        if isinstance(err, QE.AccessDeniedError):
            return SparkError(text, error_class="INSUFFICIENT_PERMISSIONS", code=grpc.StatusCode.PERMISSION_DENIED)
        if isinstance(err, (QE.BindError, QE.QuarryTypeError)):
            return SparkError(text, code=invalid)
        if is_cancellation(err):
            return SparkError(text, error_class="OPERATION_CANCELED", exception="SparkException",
                              code=grpc.StatusCode.CANCELLED)
        if isinstance(err, QE.DivideByZeroError):
            return SparkError(text, error_class="DIVIDE_BY_ZERO", exception="ArithmeticException",
                              parameters={"config": '"spark.sql.ansi.enabled"'})
        if isinstance(err, QE.CastOverflowError):
            return SparkError(text, error_class="CAST_OVERFLOW", exception="ArithmeticException",
                              parameters={"value": "", "sourceType": "", "targetType": "",
                                          "ansiConfig": '"spark.sql.ansi.enabled"'})
        if isinstance(err, QE.ArithmeticOverflowError):
            return SparkError(text, error_class="ARITHMETIC_OVERFLOW", exception="ArithmeticException",
                              parameters={"message": text, "alternative": "", "config": '"spark.sql.ansi.enabled"'})
        if isinstance(err, QE.InvalidCastError):
            return SparkError(text, error_class="CAST_INVALID_INPUT", exception="NumberFormatException",
                              parameters={"expression": "", "sourceType": "", "targetType": "",
                                          "ansiConfig": '"spark.sql.ansi.enabled"'})
        if isinstance(err, QE.UDFError):
            return SparkError(text, exception="PythonException")
        if isinstance(err, (QE.DataError, QE.ExecutionError)):
            # a kernel that raises one of Spark's own errors names its class first: "[DUPLICATED_MAP_KEY] ..."
            named = re.match(r"\[([A-Z][A-Z_.]*)\] ", str(getattr(err, "message", "") or ""))
            return SparkError(text, exception="SparkRuntimeException", error_class=named.group(1) if named else None)
        return SparkError(text, exception="SparkException")
    log.exception("internal error in the Spark Connect server")
    return SparkError(f"internal error: {type(err).__name__}: {err}", error_class="INTERNAL_ERROR",
                      exception="SparkException",
                      parameters={"message": f"{type(err).__name__}: {err}"})


def to_status(err: BaseException) -> grpc.Status:
    """The gRPC status (with an ``ErrorInfo`` detail) that makes PySpark raise ``err`` as its own class."""
    spark = as_spark_error(err)
    message = spark.message if len(spark.message) <= _MAX_MESSAGE else spark.message[:_MAX_MESSAGE] + " ..."
    info = error_details_pb2.ErrorInfo(reason=_CLASSES[spark.exception][0], domain="org.apache.spark")
    info.metadata["classes"] = json.dumps(_CLASSES[spark.exception])
    if spark.error_class:
        info.metadata["errorClass"] = spark.error_class
        if spark.error_class in _SQL_STATES:
            info.metadata["sqlState"] = _SQL_STATES[spark.error_class]
    info.metadata["messageParameters"] = json.dumps(spark.parameters)
    detail = any_pb2.Any()
    detail.Pack(info)
    code = spark.code.value[0]
    status = status_pb2.Status(code=code if code != code_pb2.OK else code_pb2.INTERNAL, message=message,
                               details=[detail])
    return rpc_status.to_status(status)


def abort_with(context: grpc.ServicerContext, err: BaseException):
    """End the call ``context`` with ``err`` as PySpark's exception (raises, as ``context.abort`` does)."""
    context.abort_with_status(to_status(err))
