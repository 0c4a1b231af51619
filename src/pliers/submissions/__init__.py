"""The Submission Engine: data submitted to forms, checked against them and recorded as events."""

from pliers.submissions.model import NewSubmission

__all__ = ["NewSubmission"]
