"""Agriculture domain: FAO-56 reference evapotranspiration and root-zone irrigation scheduling."""
