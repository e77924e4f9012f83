"""accounts pages routes."""

from fastapi import APIRouter

router = APIRouter()
