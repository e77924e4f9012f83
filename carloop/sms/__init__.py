"""Text messages through a real SMS provider (Alibaba Cloud SMS or Tencent Cloud SMS): sign-in codes
and the notices that matter, with per-phone and per-template limits and every send recorded."""
