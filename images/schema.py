"""How the image fields read in the OpenAPI description (loaded by ImagesConfig.ready)."""

from drf_spectacular.extensions import OpenApiSerializerFieldExtension


class StoredFileFieldExtension(OpenApiSerializerFieldExtension):
    """A binary file going in; coming out, the storage's URL, which is a path for local media."""

    target_class = "images.serializers.StoredFileField"

    def map_serializer_field(self, auto_schema, direction) -> dict:
        if direction == "request":
            return {"type": "string", "format": "binary"}
        return {
            "type": "string",
            "description": "The file's URL: a path such as /media/images/1/... for local storage, "
            "an absolute presigned URL that expires for S3.",
        }
