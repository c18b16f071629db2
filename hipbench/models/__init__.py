"""Model contracts shared by the backbone and head plugins."""

from hipbench.models.backbone import Backbone

__all__ = ["Backbone"]
