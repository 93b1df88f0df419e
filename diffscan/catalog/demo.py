"""The bundled demo catalog: a synthetic, deterministic set of product listings.

Every listing is generated here from templates (no real listings are copied). The catalog has
structure on purpose: CROWDED leaves full of near-duplicates, SPARSE leaves with a few distinct,
well-reviewed listings (niches), medium leaves with a realistic mix, and a few messy rows
(HTML, emoji, Chinese titles, a pound price, empty ratings) like real exports have.

Regenerate the committed file with ``python -m diffscan.catalog.demo corpus/catalog.csv``.
"""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path

import pandas as pd

# The source checkout: app.py and the committed demo catalog ship with it.
REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_CATALOG = REPO_ROOT / "corpus" / "catalog.csv"

COLUMNS = ["listing_id", "title", "description", "category", "brand", "price", "rating",
           "review_count", "url"]
URL_PREFIX = "https://shop.example/p/"

# Demand profiles: (mu, sigma) of the log-normal review count, and the chance of a best-seller.
DEMAND = {
    "crowded": (math.log(250), 1.3, 0.06),
    "medium": (math.log(120), 1.2, 0.04),
    "niche": (math.log(2500), 0.6, 0.0),
}

# Templated segments. Each listing picks a brand, one value per slot and 2-3 `features`; titles and
# description sentences are filled from those (`{slot_lc}` is the lower-case value).
TEMPLATED = [
    {   # CROWDED: a handful of templates, many brands saying the same thing.
        "category": "Home & Kitchen > Drinkware > Water Bottles", "n": 110, "demand": "crowded",
        "price": (14, 32),
        "brands": ["HydroPeak", "AquaNest", "Trekwell", "ChillCore", "Vessly", "Summitra",
                   "Glacierline", "Purevo", "Bottlecraft", "Kool Koast", "Evergo", "Nordvik"],
        "slots": {"cap": ["500ml", "750ml", "1L", "32oz", "24oz", "40oz", "18oz"],
                  "colour": ["Black", "Navy Blue", "Sage Green", "White", "Pink", "Midnight",
                             "Stone Grey", "Lilac"],
                  "lid": ["Straw Lid", "Spout Lid", "Flip Lid", "2 Lids"]},
        "features": ["Leak Proof", "BPA Free", "Keeps Drinks Cold 24 Hours", "Hot 12 Hours",
                     "Double Wall Vacuum", "Sweat Proof", "Dishwasher Safe"],
        "titles": ["Stainless Steel Insulated Water Bottle {cap} - {features}",
                   "{brand} Insulated Water Bottle {cap}, Stainless Steel - {features}",
                   "Insulated Stainless Steel Water Bottle with {lid} {cap} - {features}, {colour}",
                   "{cap} Vacuum Insulated Water Bottle Stainless Steel, {features}",
                   "Water Bottle Insulated Stainless Steel {cap} {colour} - {features}"],
        "sentences": ["Made of 18/8 food-grade stainless steel with double-wall vacuum insulation.",
                      "Keeps drinks cold for 24 hours and hot for 12 hours.",
                      "Leak-proof {lid_lc} and BPA-free, perfect for the gym, hiking, school and office.",
                      "Sweat-proof powder coating in {colour_lc} fits most cup holders.",
                      "The {cap} capacity keeps you hydrated all day."],
    },
    {   # CROWDED
        "category": "Electronics > Phone Accessories > Phone Cases", "n": 85, "demand": "crowded",
        "price": (8, 20),
        "brands": ["ArmorLite", "CaseNova", "Shieldr", "Guardline", "Slimtek", "Moxie Cases",
                   "Protekt", "Voxa", "Clearview", "Tuffpod"],
        "slots": {"model": ["iPhone 15", "iPhone 15 Pro", "iPhone 14", "iPhone 13", "Galaxy S24",
                            "Galaxy S23", "Pixel 8"],
                  "colour": ["Clear", "Black", "Navy", "Lavender", "Frosted Clear",
                             "Midnight Green", "Red"],
                  "drop": ["10ft", "12ft", "15ft", "16ft"]},
        "features": ["Shockproof", "Military Grade Drop Protection", "Slim Fit", "Anti-Yellowing",
                     "Raised Camera Protection", "Wireless Charging Compatible", "Anti-Scratch"],
        "titles": ["Case for {model} - {features}, {colour}",
                   "{brand} Clear Case Compatible with {model}, {features}",
                   "Shockproof Phone Case for {model} {colour} - {drop} Drop Protection, {features}",
                   "{model} Case, Slim Protective Cover - {features}",
                   "Compatible with {model} Case {colour}, {features}, {drop} Military Grade"],
        "sentences": ["Designed for {model} with precise cutouts for buttons, ports and camera.",
                      "Air-cushioned corners absorb shocks and pass {drop} drop tests.",
                      "Raised lips protect the screen and camera from scratches.",
                      "Slim TPU and polycarbonate build works with wireless chargers.",
                      "Anti-yellowing coating keeps the {colour_lc} finish looking new."],
    },
    {   # CROWDED
        "category": "Sports & Outdoors > Yoga > Yoga Mats", "n": 65, "demand": "crowded",
        "price": (18, 40),
        "brands": ["ZenFlow", "Asana Lab", "Lotuspeak", "FlexiCore", "Mindmat", "Balancia",
                   "Prana Path", "Stretchwell", "OmGrip"],
        "slots": {"thick": ["6mm", "8mm", "10mm", "1/4 Inch", "1/2 Inch", "5mm"],
                  "colour": ["Purple", "Black", "Teal", "Blue", "Pink", "Grey", "Olive"],
                  "material": ["TPE", "NBR", "PVC"]},
        "features": ["Non Slip", "Extra Thick", "Eco Friendly", "With Carrying Strap",
                     "Alignment Lines", "Double-Sided", "Sweat Resistant"],
        "titles": ["Yoga Mat {thick} Non Slip - {features}",
                   "{brand} Extra Thick Yoga Mat {thick}, {material}, {features}",
                   "Non Slip Yoga Mat with Carrying Strap {colour} - {thick} {material} Exercise Mat, {features}",
                   "Exercise Yoga Mat {thick} {colour}, {features}",
                   "{material} Yoga Mat - {features}, {thick} Workout Mat for Home Gym"],
        "sentences": ["The {thick_lc} {material} cushion protects your knees and joints.",
                      "Textured non-slip surface on both sides grips the floor and your hands.",
                      "Comes with a carrying strap for the studio, gym or home.",
                      "Free of latex and phthalates, easy to clean with a damp cloth.",
                      "Printed alignment lines help you keep your poses straight."],
    },
    {   # MEDIUM: the rest have more kinds and wider vocabularies.
        "category": "Home & Kitchen > Coffee & Tea > Coffee Grinders", "n": 28, "demand": "medium",
        "price": (19, 139),
        "brands": ["Brewmont", "Kuppa", "Grindhaus", "Roastery Co", "BeanCraft", "Morning Ritual"],
        "slots": {"kind": ["Electric Burr Coffee Grinder", "Manual Coffee Grinder",
                           "Blade Coffee and Spice Grinder", "Conical Burr Grinder", "Hand Coffee Mill"],
                  "setting": ["18 Grind Settings", "31 Grind Settings", "40 Click Settings",
                              "Stepless Adjustment"],
                  "burr": ["Stainless Steel Conical Burrs", "Ceramic Burrs", "A Stainless Steel Blade"],
                  "capacity": ["30g", "60g", "250g", "12 Cups"]},
        "features": ["Adjustable Grind", "For Espresso to French Press", "Quiet Motor",
                     "Removable Chamber", "Portable", "Easy to Clean"],
        "titles": ["{kind} - {features}", "{brand} {kind} with {setting}, {capacity}",
                   "{kind} {capacity}, {features}"],
        "sentences": ["Grinds evenly with {burr_lc}, from fine espresso to coarse French press.",
                      "Choose from {setting_lc} to match your brewing method.",
                      "The {capacity_lc} bean hopper is enough for a full pot.",
                      "Detachable parts rinse clean in seconds.",
                      "Compact enough for travel and camping."],
    },
    {
        "category": "Home & Kitchen > Coffee & Tea > Electric Kettles", "n": 25, "demand": "medium",
        "price": (24, 99),
        "brands": ["Kettleworks", "Brewmont", "Steamline", "Leafhouse", "Pourwell", "Kuppa"],
        "slots": {"kind": ["Electric Kettle", "Gooseneck Electric Kettle", "Glass Electric Kettle",
                           "Stainless Steel Electric Kettle", "Variable Temperature Kettle",
                           "Travel Electric Kettle"],
                  "capacity": ["1.0L", "1.2L", "1.7L", "0.8L", "0.5L"]},
        "features": ["Auto Shut-Off", "Boil-Dry Protection", "BPA Free", "Keep Warm Function",
                     "Fast Boil", "LED Indicator", "Temperature Presets"],
        "titles": ["{kind} {capacity} - {features}", "{brand} {kind}, {capacity}, {features}",
                   "{capacity} {kind} with {features}"],
        "sentences": ["This {kind_lc} boils {capacity} of water in about four minutes.",
                      "Auto shut-off and boil-dry protection keep it safe.",
                      "The keep-warm function holds water hot for up to an hour.",
                      "The cordless base rotates 360 degrees."],
    },
    {
        "category": "Pet Supplies > Dogs > Dog Beds", "n": 28, "demand": "medium",
        "price": (25, 119),
        "brands": ["Pawsome", "Barkley & Co", "Snoozy Paws", "Fluffnest", "Good Boy Goods",
                   "Tailwind Pets"],
        "slots": {"kind": ["Orthopedic Dog Bed", "Calming Donut Dog Bed", "Memory Foam Dog Bed",
                           "Elevated Cooling Dog Cot", "Bolster Dog Bed", "Waterproof Dog Crate Pad"],
                  "size": ["Small", "Medium", "Large", "Extra Large", "Jumbo"],
                  "colour": ["Grey", "Brown", "Beige", "Charcoal", "Navy"]},
        "features": ["Removable Washable Cover", "Non-Slip Bottom", "Waterproof Liner",
                     "Anti-Anxiety", "Egg Crate Foam", "Raised Rim"],
        "titles": ["{kind} for {size} Dogs - {features}", "{brand} {kind}, {size}, {colour}, {features}",
                   "{size} {kind} with {features}"],
        "sentences": ["Supportive foam relieves pressure on hips and joints.",
                      "The removable cover goes straight into the washing machine.",
                      "A non-slip bottom keeps the bed in place on hard floors.",
                      "Sized for {size_lc} dogs and available in {colour_lc}.",
                      "Raised bolsters give nervous dogs a sense of security."],
    },
    {
        "category": "Pet Supplies > Cats > Cat Toys", "n": 25, "demand": "medium",
        "price": (6, 35),
        "brands": ["Whisker Works", "Purrfect Play", "Kitty Kraft", "Meowtopia", "Pounce Co"],
        "slots": {"kind": ["Interactive Feather Wand Cat Toy", "Catnip Kicker Toy", "Cat Tunnel",
                           "Automatic Laser Cat Toy", "Crinkle Ball Cat Toys", "Cat Puzzle Feeder",
                           "Electronic Mouse Cat Toy"],
                  "count": ["Set of 3", "Pack of 6", "Set of 12", "2 Pack"]},
        "features": ["For Indoor Cats", "Boredom Relief", "Refillable Catnip", "USB Rechargeable",
                     "Collapsible", "Natural Materials"],
        "titles": ["{kind} {count} - {features}", "{brand} {kind}, {features}",
                   "{kind} for Indoor Cats, {count}, {features}"],
        "sentences": ["Keeps indoor cats active and curious.",
                      "Triggers natural hunting instincts with unpredictable movement.",
                      "Made with pet-safe, non-toxic materials.",
                      "Sold as a {count_lc}."],
    },
    {
        "category": "Office Products > Desk Organizers", "n": 25, "demand": "medium",
        "price": (12, 45),
        "brands": ["Deskline", "Orderly", "Workwell", "Neatnik", "Paperhaus"],
        "slots": {"kind": ["Desk Organizer with Drawer", "Mesh Desk Organizer", "Bamboo Desk Organizer",
                           "Monitor Stand with Storage", "Rotating Pen Holder",
                           "Acrylic Desktop Organizer", "File Sorter"],
                  "parts": ["5 Compartments", "7 Compartments", "3 Tier", "2 Tier", "4 Slots"],
                  "colour": ["Black", "White", "Natural Wood", "Gold", "Clear"]},
        "features": ["Office Supplies Storage", "for Home Office", "Space Saving", "Sturdy Metal",
                     "No Assembly", "Non-Slip Feet"],
        "titles": ["{kind}, {parts}, {colour} - {features}", "{brand} {kind} - {features}",
                   "{colour} {kind} {parts}, {features}"],
        "sentences": ["Keeps pens, sticky notes and cables within reach.",
                      "Has {parts_lc} for letters, files and small supplies.",
                      "The {colour_lc} finish suits a home or office desk.",
                      "Arrives ready to use, no tools needed."],
    },
    {
        "category": "Office Products > Notebooks", "n": 25, "demand": "medium",
        "price": (7, 29),
        "brands": ["Inkwell", "Paperhaus", "Scribe & Co", "Leaflet", "Notara"],
        "slots": {"kind": ["Hardcover Dotted Notebook", "Lined Spiral Notebook", "Leather Journal",
                           "Grid Notebook", "Softcover Ruled Journal", "Bullet Journal"],
                  "size": ["A5", "B5", "A4", "Pocket", "7 x 10 Inch"],
                  "pages": ["160 Pages", "192 Pages", "240 Pages", "100 Sheets", "80 Sheets"],
                  "paper": ["100gsm", "120gsm", "80gsm"]},
        "features": ["Thick Paper", "Elastic Closure", "Numbered Pages", "Pen Loop", "Inner Pocket",
                     "Lay Flat"],
        "titles": ["{kind} {size}, {pages}, {paper} {features}", "{brand} {kind} {size} - {features}",
                   "{size} {kind} with {features}, {pages}"],
        "sentences": ["{paper} paper takes fountain pens without bleed-through.",
                      "{pages} for notes, plans and sketches.",
                      "An elastic band and ribbon marker keep your place.",
                      "Lies flat for comfortable writing on both pages."],
    },
    {
        "category": "Sports & Outdoors > Camping > Lanterns", "n": 22, "demand": "medium",
        "price": (12, 59),
        "brands": ["Trailglow", "Summitra", "Campfire Gear", "Northbeam", "Lumatrek"],
        "slots": {"kind": ["LED Camping Lantern", "Rechargeable Camping Lantern", "Solar Camping Lantern",
                           "Collapsible Camping Lantern", "Hand Crank Emergency Lantern",
                           "Mini Hanging Tent Light"],
                  "lumens": ["300 Lumen", "500 Lumen", "1000 Lumen", "150 Lumen"],
                  "power": ["USB-C Rechargeable", "Battery Powered", "Solar and USB", "Hand Crank"]},
        "features": ["Waterproof", "Power Bank Function", "4 Light Modes", "Dimmable",
                     "For Power Outages", "Hanging Hook"],
        "titles": ["{kind} {lumens} - {power}, {features}", "{brand} {kind}, {features}",
                   "{power} {kind} {lumens} with {features}"],
        "sentences": ["Up to {lumens_lc} of warm or cool light for the tent or campsite.",
                      "Power source: {power}, so you are never left in the dark.",
                      "Water-resistant housing survives rain and drops.",
                      "A folding hook hangs it from a tent loop or branch."],
    },
    {
        "category": "Sports & Outdoors > Camping > Tents", "n": 20, "demand": "medium",
        "price": (49, 329),
        "brands": ["Trekwell", "Campfire Gear", "Wildroam", "Basecamp Supply", "Northbeam"],
        "slots": {"kind": ["Dome Camping Tent", "Backpacking Tent", "Instant Pop Up Tent",
                           "Family Cabin Tent", "Ultralight Tent", "Beach Tent Sun Shelter"],
                  "people": ["1 Person", "2 Person", "3 Person", "4 Person", "6 Person", "8 Person"],
                  "season": ["3 Season", "4 Season"]},
        "features": ["Waterproof", "Easy Setup", "With Rainfly", "Carry Bag Included",
                     "Large Mesh Windows", "Double Layer"],
        "titles": ["{kind} {people} - {season}, {features}", "{brand} {people} {kind}, {features}",
                   "{people} {kind} with {features}"],
        "sentences": ["A {people_lc} tent with room for gear.",
                      "A {season_lc} design with taped seams and a full rainfly.",
                      "Colour-coded poles go up in minutes.",
                      "Packs into the included carry bag."],
    },
    {
        "category": "Toys & Games > Building Blocks", "n": 25, "demand": "medium",
        "price": (15, 79),
        "brands": ["Brickly", "Tinker Town", "Blockstar", "Little Makers", "Magnify Kids"],
        "slots": {"kind": ["Building Blocks Set", "Magnetic Tiles", "Large Building Blocks for Toddlers",
                           "STEM Construction Kit", "Wooden Building Blocks", "Marble Run Building Set"],
                  "pieces": ["36 Pieces", "60 Pieces", "100 Pieces", "250 Pieces", "500 Pieces"],
                  "age": ["Ages 1-3", "Ages 2-4", "Ages 3+", "Ages 6+", "Ages 8-12"]},
        "features": ["Educational", "Compatible with Major Brands", "Storage Box Included",
                     "Creative Play", "Gift for Boys and Girls", "Non-Toxic"],
        "titles": ["{kind} {pieces}, {age} - {features}", "{brand} {kind} {pieces}, {features}",
                   "{kind} for Kids {age}, {features}"],
        "sentences": ["{pieces} for endless creative builds.",
                      "Recommended for {age_lc}; smooth edges and non-toxic materials.",
                      "Builds fine motor skills, spatial thinking and patience.",
                      "Everything tidies away into the storage box."],
    },
    {
        "category": "Toys & Games > Puzzles", "n": 22, "demand": "medium",
        "price": (9, 39),
        "brands": ["Puzzlewright", "Piecemeal", "Little Makers", "Jigworks", "Thinkling"],
        "slots": {"kind": ["Jigsaw Puzzle", "Wooden Puzzle for Toddlers", "Floor Puzzle", "3D Puzzle",
                           "Jigsaw Puzzle for Adults", "Chunky Peg Puzzle"],
                  "pieces": ["24 Pieces", "48 Pieces", "300 Pieces", "500 Pieces", "1000 Pieces",
                             "2000 Pieces"],
                  "theme": ["World Map", "Ocean Animals", "Mountain Landscape", "Vintage Cars",
                            "Dinosaurs", "Alphabet", "Cats in the Garden"]},
        "features": ["Family Game", "Poster Included", "Thick Pieces", "Educational", "Gift for Kids",
                     "Glare-Free Finish"],
        "titles": ["{theme} {kind} {pieces} - {features}", "{brand} {kind}, {theme}, {pieces}",
                   "{kind} {pieces} {theme}, {features}"],
        "sentences": ["A {theme_lc} scene in {pieces_lc} that fit snugly together.",
                      "Thick, glare-free pieces from recycled board.",
                      "A reference poster is included in the box.",
                      "A relaxing screen-free activity for the whole family."],
    },
    {
        "category": "Beauty > Skin Care > Face Serums", "n": 25, "demand": "medium",
        "price": (11, 49),
        "brands": ["Glowlab", "Dermaleaf", "Lumiere Skin", "Pure Ritual", "Dewy Days", "Skinfolk"],
        "slots": {"kind": ["Vitamin C Serum", "Hyaluronic Acid Serum", "Retinol Serum",
                           "Niacinamide Serum", "Peptide Serum", "Vitamin C and E Serum"],
                  "size": ["15ml", "30ml", "50ml", "1 fl oz"],
                  "skin": ["for All Skin Types", "for Sensitive Skin", "for Oily Skin", "for Dry Skin",
                           "for Mature Skin"]},
        "features": ["Brightening", "Anti-Aging", "Hydrating", "Fragrance Free", "Vegan",
                     "Dermatologist Tested"],
        "titles": ["{kind} for Face {size} - {features}", "{brand} {kind} {skin}, {features}",
                   "{kind} {size} {skin} - {features}"],
        "sentences": ["A lightweight {kind_lc} that absorbs in seconds.",
                      "Formulated {skin_lc} and free of parabens and fragrance.",
                      "Use two to three drops morning and night after cleansing.",
                      "Comes in a {size} amber glass bottle with a dropper."],
    },
    {
        "category": "Beauty > Hair Care > Shampoo", "n": 25, "demand": "medium",
        "price": (7, 32),
        "brands": ["Lockwell", "Maneframe", "Rootline", "Silkroot", "Pure Ritual"],
        "slots": {"kind": ["Sulfate Free Shampoo", "Anti-Dandruff Shampoo", "Clarifying Shampoo",
                           "Volumizing Shampoo", "Tea Tree Shampoo", "Moisturizing Shampoo",
                           "Purple Shampoo"],
                  "size": ["250ml", "500ml", "1L", "8 fl oz", "16 fl oz"],
                  "hair": ["for Curly Hair", "for Fine Hair", "for Color Treated Hair",
                           "for Dry Damaged Hair", "for Oily Scalp", "for All Hair Types"]},
        "features": ["Sulfate Free", "Paraben Free", "With Argan Oil", "With Tea Tree Oil", "Vegan",
                     "pH Balanced"],
        "titles": ["{kind} {hair}, {size} - {features}", "{brand} {kind} {size}, {features}",
                   "{kind} {size} {hair}, {features}"],
        "sentences": ["A gentle {kind_lc} made {hair_lc}.",
                      "Cleans without stripping natural oils.",
                      "Salon-quality formula in a {size} bottle.",
                      "Massage into wet hair, lather and rinse."],
    },
]

# Hand-written distinct listings: (category, brand, title, description). Niches are the
# SPARSE leaves and the odd ones out inside crowded leaves; all get the "niche" demand profile.
DISTINCT = [
    # Odd ones out in crowded leaves: unusual attributes, few offers, high demand.
    ("Home & Kitchen > Drinkware > Water Bottles", "Verra",
     "Glass Water Bottle with Silicone Sleeve and Bamboo Lid 550ml",
     "Borosilicate glass bottle wrapped in a soft silicone sleeve for grip and protection. "
     "The bamboo lid holds a tea and fruit infuser. No metallic taste."),
    ("Home & Kitchen > Drinkware > Water Bottles", "Foldaway",
     "Collapsible Silicone Water Bottle 600ml for Travel - Folds Flat, Carabiner Clip",
     "Food-grade silicone bottle that rolls down to a quarter of its size when empty. "
     "Clips onto a backpack and fits in a jacket pocket."),
    ("Home & Kitchen > Drinkware > Water Bottles", "Wellspring",
     "Filter Water Bottle for Hiking 650ml - Removes 99.99% of Bacteria, Drink from Streams",
     "A replaceable hollow-fibre filter in the straw cleans stream and tap water as you sip."),
    ("Home & Kitchen > Drinkware > Water Bottles", "Greenroot",
     "Bamboo Fiber Water Bottle 400ml - Plastic Free Shell, Compostable Sleeve",
     "A lightweight bottle with a bamboo-fibre shell and a cork stopper. Hand wash only."),
    ("Home & Kitchen > Drinkware > Water Bottles", "Lumaqua",
     "Self-Cleaning UV-C Water Bottle Cap 500ml - Purifies Water in 60 Seconds, Rechargeable",
     "The cap's UV-C light neutralises bacteria in the water and on the bottle walls. "
     "One USB charge lasts a month."),
    ("Home & Kitchen > Drinkware > Water Bottles", "Cerastone",
     "Ceramic-Lined Insulated Bottle 600ml for Coffee and Wine - No Metallic Taste",
     "A ceramic coating inside the steel keeps coffee, tea and wine tasting as they should."),
    ("Electronics > Phone Accessories > Phone Cases", "Sprout Case",
     "Biodegradable Wheat Straw Phone Case for iPhone 15 - Compostable, Plastic Free",
     "Made from wheat straw and a plant-based binder that breaks down in a home compost bin."),
    ("Electronics > Phone Accessories > Phone Cases", "Carrywell",
     "Crossbody Phone Case with Adjustable Lanyard and Card Slot for iPhone 14 - Hands Free",
     "A detachable braided strap lets you wear your phone across the body. "
     "The back slot holds two cards."),
    ("Electronics > Phone Accessories > Phone Cases", "Southpaw Goods",
     "Left-Handed Wallet Phone Case for Galaxy S24 - Flip Opens to the Right",
     "A leather folio whose cover opens to the right, so left-handed users can hold and type "
     "comfortably. Three card slots."),
    ("Electronics > Phone Accessories > Phone Cases", "Driftline",
     "Waterproof Floating Phone Pouch for Kayaking - IP68, Fits Phones up to 6.9 Inch",
     "A sealed pouch with a foam frame that floats if dropped overboard. Touchscreen works "
     "through the window."),
    ("Sports & Outdoors > Yoga > Yoga Mats", "Corkwise",
     "Cork Yoga Mat 4mm with Natural Rubber Base - Antimicrobial, Grips Better When Wet",
     "Natural cork gets grippier as you sweat and resists odour. The rubber base stays put."),
    ("Sports & Outdoors > Yoga > Yoga Mats", "Roamflow",
     "Foldable Travel Yoga Mat 1.5mm - Fits in a Carry-On, Weighs 900g",
     "A thin natural rubber mat that folds like a towel for hotel rooms and travel."),
    ("Sports & Outdoors > Yoga > Yoga Mats", "Tallform",
     "Extra Long Yoga Mat for Tall People 215cm x 80cm - 6mm Natural Rubber",
     "Extra length and width so tall yogis never touch the floor in savasana."),
    ("Sports & Outdoors > Yoga > Yoga Mats", "Little Lotus",
     "Kids Yoga Mat with Animal Poses Print 4mm - for Toddlers and Preschool",
     "A small, soft mat printed with twelve animal poses to play along with."),
    ("Sports & Outdoors > Yoga > Yoga Mats", "Jutebase",
     "Jute Yoga Mat 5mm - Plastic Free, Natural Fiber Surface",
     "Woven jute top on a natural rubber base. Textured and breathable."),
    # Chinese listings (cross-listed by sellers), in the crowded drinkware and in coffee.
    ("Home & Kitchen > Drinkware > Water Bottles", "HydroPeak",
     "不锈钢保温杯 500ml 真空 保冷保温",
     "采用304不锈钢，双层真空设计。保冷24小时，保温12小时。"),
    ("Home & Kitchen > Drinkware > Water Bottles", "冰川",
     "真空保温水杯 750ml 304不锈钢 防漏 大容量",
     "防漏杯盖，不含BPA，适合办公室、健身和户外。"),
    ("Home & Kitchen > Drinkware > Water Bottles", "AquaNest",
     "运动水壶 1L 不含BPA 带吸管 户外健身",
     "大容量运动水壶，带时间刻度和吸管。"),
    ("Home & Kitchen > Coffee & Tea > Coffee Grinders", "Kuppa",
     "手摇咖啡磨豆机 陶瓷磨芯 便携 可调粗细",
     "陶瓷磨芯，粗细可调，适合手冲和意式咖啡。"),
    # SPARSE leaves: few, distinct offers with strong demand.
    ("Baby > Feeding > Toddler Cups", "Tiny Sips",
     "Toddler Water Bottle with Weighted Straw 300ml - Spill Proof, Easy Grip Handles, Ages 1-3",
     "The weighted straw reaches the last drop at any angle. Handles sized for small hands."),
    ("Baby > Feeding > Toddler Cups", "Greenroot",
     "Bamboo Fiber Toddler Cups Set of 2 with Silicone Lids - Plastic Free, 12 Months+",
     "Cups made from bamboo fibre with soft silicone sippy lids. Dishwasher safe."),
    ("Baby > Feeding > Toddler Cups", "Verra",
     "Glass Sippy Cup with Silicone Sleeve 180ml for Toddlers - Non-Toxic, Shatter Resistant",
     "Tempered glass in a thick silicone sleeve. No plastic touches the drink."),
    ("Baby > Feeding > Toddler Cups", "Foldaway",
     "Collapsible Silicone Snack and Drink Cup for Toddlers - Travel Friendly, Folds Flat",
     "Pops open for snacks or drinks and folds flat into the nappy bag."),
    ("Baby > Feeding > Toddler Cups", "Tiny Sips",
     "Open Training Cup for Babies 6 Months+ - Tilt-Control Rim, Transition from Bottle",
     "A small open cup with a flow-control rim to teach sipping without spills."),
    ("Baby > Feeding > Toddler Cups", "小水滴",
     "儿童保温杯 350ml 带吸管 防摔 幼儿园",
     "带吸管，防摔杯套，适合幼儿园和外出。"),
    ("Office Products > Left-Handed Supplies", "Southpaw Goods",
     "Left-Handed Scissors 8 Inch - Reversed Blades for Lefties, Comfort Grip",
     "The blades are reversed so left-handed users can see the cutting line."),
    ("Office Products > Left-Handed Supplies", "Southpaw Goods",
     "Left-Handed Spiral Notebook A5 - Spiral on the Right, 120 Lined Pages",
     "With the spiral on the right, your hand never rests on the wire."),
    ("Office Products > Left-Handed Supplies", "Inkwell",
     "Left-Handed Fountain Pen with Quick-Dry Ink - No Smudge, Fine Nib",
     "Quick-drying ink and a smooth fine nib for pushing rather than pulling the pen."),
    ("Office Products > Left-Handed Supplies", "Lefty Lab",
     "Left-Handed Ruler 30cm - Numbers Read Right to Left",
     "Measure from right to left the way left-handers draw lines."),
    ("Office Products > Left-Handed Supplies", "Lefty Lab",
     "Left-Handed Desk Pad with Mouse Area on the Left - 80 x 30cm",
     "A felt desk pad laid out for left-handed mouse users."),
    ("Pet Supplies > Dogs > Dog Ramps", "Tailwind Pets",
     "Collapsible Dog Ramp for Car and SUV - Lightweight, Holds 90kg, for Senior Dogs",
     "Folds in three to fit the boot. A grippy surface helps older dogs climb in safely."),
    ("Pet Supplies > Dogs > Dog Ramps", "Fluffnest",
     "Foam Dog Stairs for Bed and Couch, 3 Steps - for Small and Senior Dogs",
     "High-density foam steps with a washable cover. Saves small dogs from jumping."),
    ("Pet Supplies > Dogs > Dog Ramps", "Barkley & Co",
     "Bedside Dog Ramp with Carpeted Non-Slip Surface - Adjustable Height",
     "Adjusts to beds from 40 to 70cm. Carpeted for grip."),
    ("Pet Supplies > Dogs > Dog Ramps", "Good Boy Goods",
     "Wooden Folding Pet Ramp for Arthritic Dogs - Converts to Stairs",
     "A solid pine ramp that flips over into stairs. Rubber feet protect floors."),
    ("Sports & Outdoors > Camping > Camp Cookware", "Foldaway",
     "Collapsible Silicone Camping Kettle 1L - Folds to 4cm",
     "A silicone body on a stainless steel base, for gas stoves. Folds flat in the pack."),
    ("Sports & Outdoors > Camping > Camp Cookware", "Lumatrek",
     "Titanium Camping Pot 750ml with Lid - Ultralight 103g",
     "Pure titanium pot that doubles as a mug. A gas canister nests inside."),
    ("Sports & Outdoors > Camping > Camp Cookware", "Campfire Gear",
     "Collapsible Silicone Bowls Set of 4 with Lids for Camping",
     "Four nesting bowls that fold flat. Lids keep leftovers in."),
    ("Sports & Outdoors > Camping > Camp Cookware", "Basecamp Supply",
     "Cast Iron Campfire Pie Iron - Toasted Sandwich Maker",
     "Long handles keep your hands away from the fire. Pre-seasoned cast iron."),
    ("Beauty > Oral Care > Bamboo Toothbrushes", "Greenroot",
     "Bamboo Toothbrushes 4 Pack - Soft Charcoal Bristles, Biodegradable Handle",
     "Handles of sustainably grown bamboo; bristles infused with charcoal."),
    ("Beauty > Oral Care > Bamboo Toothbrushes", "Tiny Sips",
     "Kids Bamboo Toothbrush Set for Toddlers - Extra Soft, Animal Prints",
     "Small heads and extra-soft bristles for first teeth."),
    ("Beauty > Oral Care > Bamboo Toothbrushes", "Zerowaste Co",
     "Bamboo Toothbrush with Replaceable Heads - Zero Waste, 1 Handle + 6 Heads",
     "Keep the handle and swap the head every three months."),
    ("Beauty > Oral Care > Bamboo Toothbrushes", "Zerowaste Co",
     "Bamboo Tongue Scraper and Toothbrush Set - Plastic Free Travel Case",
     "A bamboo brush, a copper tongue scraper and a cotton pouch."),
]

CROWDED_LEAVES = ("Water Bottles", "Phone Cases", "Yoga Mats")
SPARSE_LEAVES = ("Toddler Cups", "Left-Handed Supplies", "Dog Ramps", "Camp Cookware",
                 "Bamboo Toothbrushes")

# Messy rows, applied to the first listing of the given leaf (before shuffling).
EMOJI = {"Coffee Grinders": "☕", "Dog Beds": "🐶", "Cat Toys": "🐱", "Tents": "⛺"}
HTML = {"Yoga Mats": "<b>New!</b> &amp; improved grip. {d}",
        "Face Serums": "<p>{d}</p><ul><li>Vegan</li><li>Cruelty free</li></ul>",
        "Electric Kettles": "{d}<br>Includes a &quot;quick start&quot; guide."}
POUND_PRICE = ("Notebooks", "£12.50")


def _fill(template: str, values: dict[str, str]) -> str:
    """Format a template with slot values and their lower-case `_lc` variants."""
    lower = {f"{k}_lc": v.lower() for k, v in values.items()}
    return template.format(**values, **lower)


def _price(rng: random.Random, low: float, high: float) -> str:
    """A price like "$24.99" (most rows) or "24.99" (plain, to exercise parsing)."""
    value = int(rng.uniform(low, high)) + rng.choice([0.99, 0.95, 0.49, 0.0])
    return f"${value:.2f}" if rng.random() < 0.6 else f"{value:.2f}"


def _demand(rng: random.Random, profile: str) -> tuple[float, float]:
    """(rating, review_count): heavy-tailed counts; more reviews go with higher ratings."""
    mu, sigma, best_seller = DEMAND[profile]
    if rng.random() < 0.04:  # a new listing: no reviews, no rating yet
        return math.nan, 0
    reviews = int(rng.lognormvariate(mu, sigma)) + 1
    if rng.random() < best_seller:  # best-sellers: many reviews and a high rating
        reviews *= 30
        rating = round(rng.uniform(4.5, 4.9), 1)
    else:
        rating = 3.6 + 0.22 * math.log10(reviews) + rng.gauss(0, 0.3)
        rating = round(min(5.0, max(1.0, rating)), 1)
    if rng.random() < 0.03:  # count missing from the export, rating kept
        return rating, math.nan
    return rating, reviews


def _templated(rng: random.Random, seg: dict) -> list[dict]:
    rows = []
    for _ in range(seg["n"]):
        values = {slot: rng.choice(choices) for slot, choices in seg["slots"].items()}
        values["brand"] = rng.choice(seg["brands"])
        title = rng.choice(seg["titles"])
        said = (title + " " + " ".join(values.values())).lower()  # don't repeat it in features
        fresh = [f for f in seg["features"] if f.lower() not in said]
        values["features"] = ", ".join(rng.sample(fresh, rng.randint(2, 3)))
        sentences = rng.sample(seg["sentences"], rng.randint(1, 3))
        rating, reviews = _demand(rng, seg["demand"])
        rows.append({"title": _fill(title, values),
                     "description": " ".join(_fill(s, values) for s in sentences),
                     "category": seg["category"], "brand": values["brand"],
                     "price": _price(rng, *seg["price"]), "rating": rating, "review_count": reviews})
    return rows


def _distinct(rng: random.Random) -> list[dict]:
    rows = []
    for category, brand, title, description in DISTINCT:
        rating, reviews = _demand(rng, "niche")
        rows.append({"title": title, "description": description, "category": category,
                     "brand": brand, "price": _price(rng, 12, 60), "rating": rating,
                     "review_count": reviews})
    return rows


def _add_mess(rows: list[dict]) -> None:
    """Emoji, HTML and a pound price on the first listing of a few leaves."""
    seen: set[str] = set()
    for row in rows:
        leaf = row["category"].split(" > ")[-1]
        if leaf in seen:
            continue
        seen.add(leaf)
        if leaf in EMOJI:
            row["title"] = f"{EMOJI[leaf]} {row['title']}"
        if leaf in HTML:
            row["description"] = HTML[leaf].format(d=row["description"])
        if leaf == POUND_PRICE[0]:
            row["price"] = POUND_PRICE[1]


def generate_demo_catalog(seed: int = 7) -> pd.DataFrame:
    """Build the demo catalog (about 600 listings); the same seed gives the same table."""
    rng = random.Random(seed)
    rows = [row for seg in TEMPLATED for row in _templated(rng, seg)] + _distinct(rng)
    _add_mess(rows)
    rng.shuffle(rows)
    for i, row in enumerate(rows, start=1):
        row["listing_id"] = f"DS-{i:04d}"
        row["url"] = URL_PREFIX + row["listing_id"]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["rating"] = frame["rating"].astype("float64")
    frame["review_count"] = frame["review_count"].astype("Int64")
    return frame


def write_demo_catalog(path, seed: int = 7) -> Path:
    """Write the demo catalog as UTF-8 CSV with "\\n" line endings; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    generate_demo_catalog(seed).to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
    return path


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else "corpus/catalog.csv"
    print(f"wrote {write_demo_catalog(target)}")
