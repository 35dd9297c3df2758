from fastapi import APIRouter

router = APIRouter(tags=["forecast submission"])
