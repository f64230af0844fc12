"""Request and answer models of the portal and signup routes (pydantic), by business area.

Only the portal and signup functions import this package: pydantic costs their cold start, not the
validation or usage functions'. Every bound comes from ``tollgate.http.limits``.
"""
